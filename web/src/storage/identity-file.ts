/**
 * The identity key as a passphrase-encrypted file, so a volunteer can keep its
 * credit across a cleared profile or another browser. PBKDF2-SHA-256 turns the
 * passphrase into an AES-256-GCM key; the header (format, version, role, peer
 * id, KDF and IV) is the AES-GCM additional data, so no field can be changed
 * without the file failing to open. Files are untrusted input: every field is
 * checked with valibot, the iteration count is bounded both ways, and the key
 * inside must sign for the peer id the file names before it is accepted. The
 * volunteer's display name travels inside the encrypted part (an extra member
 * beside the JWK's, which older imports ignore) and is checked with the
 * server's rules on the way in.
 */
import * as v from 'valibot';
import { base64urlDecode, base64urlEncode } from '@shared/bytes';
import { identityFromKeys, PEER_ID_PATTERN, sign, verify, type Identity } from '@shared/identity';
import { checkDisplayName, RoleSchema, type Role } from '@shared/protocol';

/** OWASP's 2023 figure for PBKDF2-HMAC-SHA256; ~0.3 s in a current browser, paid once per export or import. */
export const PBKDF2_ITERATIONS = 310_000;
/** A hostile file could ask for billions of rounds and hang the tab: past 10× the default it is refused. */
const MAX_PBKDF2_ITERATIONS = 10 * PBKDF2_ITERATIONS;
/** Short passphrases fall to offline guessing whatever the KDF cost; 8 is the least a person is told to use. */
export const MIN_PASSPHRASE_CHARS = 8;
/** An Ed25519 private JWK is ~200 bytes; 4 KiB of ciphertext leaves room and keeps a bad file cheap to refuse. */
const MAX_CIPHERTEXT_CHARS = 4096;
/** A file larger than this is not one of ours: refused before JSON.parse. */
export const MAX_IDENTITY_FILE_BYTES = 16 * 1024;

export const IDENTITY_FILE_FORMAT = 'basilica-identity';
export const IDENTITY_FILE_VERSION = 1;

const B64 = (max: number) => v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]+$/), v.maxLength(max));

const HeaderSchema = v.strictObject({
  format: v.literal(IDENTITY_FILE_FORMAT),
  v: v.literal(IDENTITY_FILE_VERSION),
  role: RoleSchema,
  peerId: v.pipe(v.string(), v.regex(PEER_ID_PATTERN)),
  kdf: v.strictObject({
    name: v.literal('PBKDF2'),
    hash: v.literal('SHA-256'),
    iterations: v.pipe(v.number(), v.integer(), v.minValue(PBKDF2_ITERATIONS), v.maxValue(MAX_PBKDF2_ITERATIONS)),
    salt: B64(64),
  }),
  cipher: v.strictObject({ name: v.literal('AES-GCM'), iv: B64(32) }),
});
export const IdentityFileSchema = v.strictObject({ ...HeaderSchema.entries, ciphertext: B64(MAX_CIPHERTEXT_CHARS) });
export type IdentityFile = v.InferOutput<typeof IdentityFileSchema>;

/**
 * What is encrypted: the private key as JWK (its `x` is the public key, so the pair comes back whole) and,
 * optionally, the display name chosen with it (unknown members are ignored, so files stay readable both ways).
 */
const PrivateJwkSchema = v.object({
  kty: v.literal('OKP'),
  crv: v.literal('Ed25519'),
  x: B64(64),
  d: B64(64),
  displayName: v.optional(v.unknown()),
});

/** An identity file's contents once opened. */
export interface OpenedIdentity {
  readonly identity: Identity;
  /** The display name saved with the key, when it had one that the server's rules accept. */
  readonly displayName: string | null;
}

export type IdentityFileErrorCode =
  | 'not-extractable'
  | 'weak-passphrase'
  | 'not-a-file'
  | 'wrong-passphrase'
  | 'wrong-role'
  | 'key-mismatch';

/** Every way an export or import fails; `message` says what to do. */
export class IdentityFileError extends Error {
  override readonly name = 'IdentityFileError';
  constructor(
    readonly code: IdentityFileErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function checkPassphrase(passphrase: string): void {
  if ([...passphrase].length < MIN_PASSPHRASE_CHARS)
    throw new IdentityFileError(
      'weak-passphrase',
      `use a passphrase of at least ${MIN_PASSPHRASE_CHARS} characters (a few unrelated words is best)`,
    );
}

async function deriveKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(passphrase.normalize('NFC')),
    'PBKDF2',
    false,
    ['deriveKey'],
  );
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as BufferSource, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** The header's bytes as AES-GCM additional data: fixed key order, so both sides make the same bytes. */
function headerBytes(file: v.InferOutput<typeof HeaderSchema>): Uint8Array {
  const { format, v: version, role, peerId, kdf, cipher } = file;
  return new TextEncoder().encode(
    JSON.stringify([
      format,
      version,
      role,
      peerId,
      kdf.name,
      kdf.hash,
      kdf.iterations,
      kdf.salt,
      cipher.name,
      cipher.iv,
    ]),
  );
}

/**
 * The identity as an encrypted JSON file. Throws `not-extractable` for a key
 * made before keys were extractable (it can never leave this browser), and
 * `weak-passphrase` for a short passphrase.
 */
export async function exportIdentity(
  identity: Identity,
  role: Role,
  passphrase: string,
  options: { displayName?: string | null; iterations?: number } = {},
): Promise<string> {
  if (!identity.privateKey.extractable)
    throw new IdentityFileError(
      'not-extractable',
      'this key was created by an earlier version of the app as non-extractable, so no script (this page included) can export it; its credit stays tied to this browser',
    );
  checkPassphrase(passphrase);
  const { kty, crv, x, d } = await crypto.subtle.exportKey('jwk', identity.privateKey);
  const name = options.displayName ? { displayName: options.displayName } : {};
  return sealIdentityFile({ kty, crv, x, d, ...name }, identity.peerId, role, passphrase, options.iterations);
}

/** Encrypts a private JWK under `passphrase` as a file naming `peerId` (exported for tests of a damaged file). */
export async function sealIdentityFile(
  jwk: JsonWebKey & { displayName?: string },
  peerId: string,
  role: Role,
  passphrase: string,
  iterations = PBKDF2_ITERATIONS,
): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const header = {
    format: IDENTITY_FILE_FORMAT,
    v: IDENTITY_FILE_VERSION,
    role,
    peerId,
    kdf: { name: 'PBKDF2', hash: 'SHA-256', iterations, salt: base64urlEncode(salt) },
    cipher: { name: 'AES-GCM', iv: base64urlEncode(iv) },
  } as const;
  const key = await deriveKey(passphrase, salt, iterations);
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: headerBytes(header) as BufferSource },
    key,
    new TextEncoder().encode(JSON.stringify(jwk)),
  );
  const file: IdentityFile = { ...header, ciphertext: base64urlEncode(new Uint8Array(sealed)) };
  return JSON.stringify(file, null, 2) + '\n';
}

/**
 * Opens an identity file for `role`. Checks, in order: size, JSON, schema,
 * role, passphrase (AES-GCM authenticates header and key together), then that
 * the key inside signs for the peer id the file names. Returns an extractable
 * identity; never touches storage (the caller stores it only on success).
 */
export async function importIdentity(text: string, role: Role, passphrase: string): Promise<Identity> {
  return (await openIdentityFile(text, role, passphrase)).identity;
}

/** importIdentity, with the display name saved in the file (null when none, or one the rules refuse). */
export async function openIdentityFile(text: string, role: Role, passphrase: string): Promise<OpenedIdentity> {
  const notAFile = (why: string) =>
    new IdentityFileError('not-a-file', `this is not a Basilica identity file (${why}); choose the file Export saved`);
  if (text.length > MAX_IDENTITY_FILE_BYTES) throw notAFile(`larger than ${MAX_IDENTITY_FILE_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw notAFile('not JSON');
  }
  const parsed = v.safeParse(IdentityFileSchema, raw);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.');
    throw notAFile(`${path ? path + ': ' : ''}${issue.message}`);
  }
  const file = parsed.output;
  if (file.role !== role)
    throw new IdentityFileError('wrong-role', `this file holds a ${file.role} key; import it on the ${file.role} page`);
  let plain: ArrayBuffer;
  try {
    const key = await deriveKey(passphrase, base64urlDecode(file.kdf.salt), file.kdf.iterations);
    plain = await crypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: base64urlDecode(file.cipher.iv) as BufferSource,
        additionalData: headerBytes(file) as BufferSource,
      },
      key,
      base64urlDecode(file.ciphertext) as BufferSource,
    );
  } catch {
    throw new IdentityFileError(
      'wrong-passphrase',
      'the passphrase does not open this file (or the file was changed); check it and try again',
    );
  }
  const jwk = v.safeParse(PrivateJwkSchema, safeJson(new TextDecoder().decode(plain)));
  if (!jwk.success) throw notAFile('the encrypted key is not an Ed25519 key');
  const mismatch = new IdentityFileError(
    'key-mismatch',
    `the key inside does not belong to ${file.peerId}; the file is damaged`,
  );
  try {
    const { kty, crv, x, d } = jwk.output;
    const privateKey = await crypto.subtle.importKey('jwk', { kty, crv, x, d }, 'Ed25519', true, ['sign']);
    const publicKey = await crypto.subtle.importKey('jwk', { kty, crv, x }, 'Ed25519', true, ['verify']);
    const identity = await identityFromKeys(publicKey, privateKey);
    // WebCrypto does not check that `x` is `d`'s public key: a signature that verifies for the peer id does.
    const probe = new TextEncoder().encode(`basilica-identity-import/v1\n${file.peerId}`);
    if (identity.peerId !== file.peerId || !(await verify(file.peerId, probe, await sign(identity, probe))))
      throw mismatch;
    const name = jwk.output.displayName;
    const checked = typeof name === 'string' ? checkDisplayName(name) : null;
    return { identity, displayName: checked?.ok ? checked.name : null };
  } catch (error) {
    if (error instanceof IdentityFileError) throw error;
    throw mismatch;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
