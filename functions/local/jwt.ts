/**
 * Local stand-in for the HTTP API's JWT authorizer: the same checks (RS256
 * signature, issuer, audience, expiry, not-before) with a key pair kept in
 * `.local/` for development, or in a file of the test's choosing.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair, importJWK, importPKCS8, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { PROJECT_ROOT } from '../database/local-postgres';
import { localJwtSettings } from '../shared/config';

export const { issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE } = localJwtSettings();
const ALGORITHM = 'RS256';
const KEY_ID = 'local-dev-key';

export function defaultKeyFile(): string {
  return localJwtSettings().keyFile ?? path.join(PROJECT_ROOT, '.local', 'jwt-signing-key.json');
}

interface StoredKey {
  privateKeyPem: string;
  publicJwk: Record<string, unknown>;
}

async function loadOrCreateKey(file: string): Promise<StoredKey> {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as StoredKey;
  const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { extractable: true });
  const stored: StoredKey = { privateKeyPem: await exportPKCS8(privateKey), publicJwk: { ...(await exportJWK(publicKey)), kid: KEY_ID, alg: ALGORITHM, use: 'sig' } };
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
  return stored;
}

export interface LocalTokens {
  sign(subjectEmail: string, options?: { expiresIn?: string; audience?: string; issuer?: string; notBefore?: string }): Promise<string>;
  /** Verified claims, or null for any token the AWS authorizer would reject. */
  verify(token: string): Promise<JWTPayload | null>;
  readonly jwks: { keys: Record<string, unknown>[] };
}

export async function localTokens(file = defaultKeyFile()): Promise<LocalTokens> {
  const stored = await loadOrCreateKey(file);
  const privateKey = await importPKCS8(stored.privateKeyPem, ALGORITHM);
  const publicKey = await importJWK(stored.publicJwk, ALGORITHM);
  return {
    jwks: { keys: [stored.publicJwk] },
    sign: (email, options = {}) => {
      const jwt = new SignJWT({ email, token_use: 'id' })
        .setProtectedHeader({ alg: ALGORITHM, kid: KEY_ID, typ: 'JWT' })
        .setSubject(email)
        .setIssuer(options.issuer ?? LOCAL_ISSUER)
        .setAudience(options.audience ?? LOCAL_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '12h');
      if (options.notBefore) jwt.setNotBefore(options.notBefore);
      return jwt.sign(privateKey);
    },
    verify: async (token) => {
      try {
        const { payload } = await jwtVerify(token, publicKey, { issuer: LOCAL_ISSUER, audience: LOCAL_AUDIENCE, algorithms: [ALGORITHM] });
        return payload;
      } catch {
        return null;
      }
    },
  };
}
