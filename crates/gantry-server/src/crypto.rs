//! Secrets at rest: the server's key, and sealing and opening of secret values.
//!
//! Every secret value (repository and organisation secrets) is stored sealed with
//! XChaCha20-Poly1305 under one 32-byte server key, with a random 24-byte nonce per value and
//! associated data that names the value's place ([`secret_aad`]): a value copied to another row
//! (another repository, another name) no longer opens. A sealed value is
//! `version byte ‖ nonce ‖ ciphertext and tag`.
//!
//! The key comes from `GANTRY_SECRET_KEY` (64 hex characters) when it is set, which lets a
//! PostgreSQL deployment keep the key away from the database and its backups; otherwise from
//! `DATA/secret.key` (64 hex characters), created with mode 0600 on first start and refused when
//! others may read it. The key is never logged: [`SecretKey`]'s `Debug` shows nothing of it.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use gantry_store::SecretScope;

use crate::AppState;
use crate::error::AppError;

/// The environment variable that holds the key (64 hex characters) instead of the key file.
pub const KEY_VARIABLE: &str = "GANTRY_SECRET_KEY";
/// The key file's name in the data directory.
pub const KEY_FILE: &str = "secret.key";
/// The first byte of every sealed value: the format, so that it can change later.
const FORMAT_VERSION: u8 = 1;
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
/// Poly1305's tag.
const TAG_BYTES: usize = 16;

/// What went wrong loading the key or opening a value.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error(
        "a sealed value does not open: it was changed, moved to another place, or sealed with \
         another key; set the secret again"
    )]
    Tampered,
    #[error(
        "a sealed value has format {0}, which this version of gantry does not know: upgrade gantry"
    )]
    UnknownFormat(u8),
    #[error("a sealed value is too short to be one: set the secret again")]
    Truncated,
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the key file {} can be read by other users (mode {mode:o}): run `chmod 600` on it",
        path.display()
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error(
        "{origin} must hold 64 hexadecimal characters (32 bytes), not {found}: restore the \
         right key (without it the stored secrets cannot be read)"
    )]
    Malformed { origin: String, found: String },
}

/// The server's key for secrets at rest.
#[derive(Clone)]
pub struct SecretKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> SecretKey {
        SecretKey {
            cipher: XChaCha20Poly1305::new(&Key::from(bytes)),
        }
    }

    /// A new random key.
    pub fn generate() -> SecretKey {
        SecretKey::from_bytes(rand::random())
    }

    /// Encrypts `plaintext`, bound to `aad` (the value's place): version ‖ nonce ‖ ciphertext.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let ciphertext = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            // The only failure is a message longer than 256 GiB; request bodies are limited to 1 MiB.
            .expect("XChaCha20-Poly1305 seals any value below 256 GiB");
        let mut sealed = Vec::with_capacity(1 + NONCE_BYTES + ciphertext.len());
        sealed.push(FORMAT_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// Decrypts what [`seal`](Self::seal) made with the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Truncated)?;
        if version != FORMAT_VERSION {
            return Err(CryptoError::UnknownFormat(version));
        }
        if rest.len() < NONCE_BYTES + TAG_BYTES {
            return Err(CryptoError::Truncated);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| CryptoError::Truncated)?;
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Tampered)
    }
}

/// The associated data that binds a secret's value to its place: `repo:<id>:<NAME>` or
/// `org:<NAME>`.
pub fn secret_aad(scope: SecretScope, name: &str) -> Vec<u8> {
    match scope {
        SecretScope::Org => format!("org:{name}").into_bytes(),
        SecretScope::Repository(id) => format!("repo:{id}:{name}").into_bytes(),
    }
}

/// The key from `GANTRY_SECRET_KEY` when set, else from `DATA/secret.key` (made on first start).
pub fn load_or_create(data_dir: &Path) -> Result<SecretKey, CryptoError> {
    let variable = std::env::var(KEY_VARIABLE).ok();
    load_from(data_dir, variable.as_deref())
}

/// [`load_or_create`] with the environment variable's value passed in.
pub fn load_from(data_dir: &Path, variable: Option<&str>) -> Result<SecretKey, CryptoError> {
    if let Some(text) = variable {
        tracing::info!("secrets key: from {KEY_VARIABLE}");
        return parse_hex_key(text, KEY_VARIABLE);
    }
    let path = data_dir.join(KEY_FILE);
    std::fs::create_dir_all(data_dir).map_err(|source| CryptoError::Io {
        what: "creating the data directory",
        path: data_dir.to_path_buf(),
        source,
    })?;
    let bytes: [u8; KEY_BYTES] = rand::random();
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            let written = file
                .write_all(format!("{}\n", hex(&bytes)).as_bytes())
                .and_then(|()| file.sync_all());
            if let Err(source) = written {
                // A half-written key would be refused at the next start: remove it now.
                let _ = std::fs::remove_file(&path);
                return Err(CryptoError::Io {
                    what: "writing the key file",
                    path,
                    source,
                });
            }
            tracing::info!(path = %path.display(), "secrets key: created; back it up, the stored secrets cannot be read without it");
            Ok(SecretKey::from_bytes(bytes))
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(&path),
        Err(source) => Err(CryptoError::Io {
            what: "creating the key file",
            path,
            source,
        }),
    }
}

fn read_key_file(path: &Path) -> Result<SecretKey, CryptoError> {
    let io = |what| {
        move |source| CryptoError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    };
    let mode = std::fs::metadata(path)
        .map_err(io("reading the key file"))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(CryptoError::Permissions {
            path: path.to_path_buf(),
            mode: mode & 0o777,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io("reading the key file"))?;
    let key = parse_hex_key(&text, &format!("the key file {}", path.display()))?;
    tracing::info!(path = %path.display(), "secrets key: from the key file");
    Ok(key)
}

/// 64 hex characters (surrounding white space ignored) as a key; `source` names where they came
/// from in the error, which never repeats the text itself.
fn parse_hex_key(text: &str, source: &str) -> Result<SecretKey, CryptoError> {
    let text = text.trim();
    let malformed = |found: String| CryptoError::Malformed {
        origin: source.to_string(),
        found,
    };
    if text.len() != KEY_BYTES * 2 {
        return Err(malformed(format!("{} characters", text.len())));
    }
    let mut bytes = [0u8; KEY_BYTES];
    for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let digits = std::str::from_utf8(pair).ok();
        *byte = digits
            .and_then(|digits| u8::from_str_radix(digits, 16).ok())
            .ok_or_else(|| malformed("characters that are not hexadecimal".to_string()))?;
    }
    Ok(SecretKey::from_bytes(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The secrets a run of the repository receives, decrypted, by name: the organisation's, with the
/// repository's own replacing those of the same name. Call it when starting a run, and give the
/// values only to the run (and its masker).
///
/// The store does not say which scope a row came from, so a value opens with its repository's
/// place first, then the organisation's: a value moved from another repository, or renamed, opens
/// with neither.
pub async fn run_secrets(
    state: &AppState,
    repository_id: i64,
) -> Result<Vec<(String, String)>, AppError> {
    open_run_secrets(&state.store, &state.secret_key, repository_id).await
}

/// [`run_secrets`] from the store and the key alone (the run queue has no `AppState`).
pub async fn open_run_secrets(
    store: &gantry_store::Store,
    key: &SecretKey,
    repository_id: i64,
) -> Result<Vec<(String, String)>, AppError> {
    let sealed = store.secrets_for_run(repository_id).await?;
    let mut secrets = Vec::with_capacity(sealed.len());
    for secret in sealed {
        let opened = key
            .open(
                &secret.value,
                &secret_aad(SecretScope::Repository(repository_id), &secret.name),
            )
            .or_else(|_| key.open(&secret.value, &secret_aad(SecretScope::Org, &secret.name)))
            .map_err(|err| {
                AppError::Internal(format!(
                    "secret {} of repository {repository_id}: {err}",
                    secret.name
                ))
            })?;
        let value = String::from_utf8(opened).map_err(|_| {
            AppError::Internal(format!(
                "secret {} of repository {repository_id} is not UTF-8",
                secret.name
            ))
        })?;
        secrets.push((secret.name, value));
    }
    Ok(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_the_same_key_and_place() {
        let key = SecretKey::generate();
        let sealed = key.seal(b"hunter2", b"repo:1:TOKEN");
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert_eq!(sealed.len(), 1 + NONCE_BYTES + 7 + TAG_BYTES);
        assert!(!sealed.windows(7).any(|window| window == b"hunter2"));
        assert_eq!(key.open(&sealed, b"repo:1:TOKEN").unwrap(), b"hunter2");
        // A fresh nonce each time: the same value seals differently.
        assert_ne!(key.seal(b"hunter2", b"repo:1:TOKEN"), sealed);
        let empty = key.seal(b"", b"org:EMPTY");
        assert_eq!(key.open(&empty, b"org:EMPTY").unwrap(), b"");
    }

    #[test]
    fn another_place_or_key_does_not_open_it() {
        let key = SecretKey::generate();
        let sealed = key.seal(b"hunter2", &secret_aad(SecretScope::Repository(1), "TOKEN"));
        for aad in [
            secret_aad(SecretScope::Repository(2), "TOKEN"),
            secret_aad(SecretScope::Repository(1), "OTHER"),
            secret_aad(SecretScope::Org, "TOKEN"),
        ] {
            assert!(matches!(
                key.open(&sealed, &aad),
                Err(CryptoError::Tampered)
            ));
        }
        let other = SecretKey::generate();
        assert!(matches!(
            other.open(&sealed, &secret_aad(SecretScope::Repository(1), "TOKEN")),
            Err(CryptoError::Tampered)
        ));
    }

    #[test]
    fn every_changed_byte_is_detected() {
        let key = SecretKey::generate();
        let sealed = key.seal(b"value", b"org:A");
        for index in 1..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[index] ^= 0x01;
            assert!(
                matches!(key.open(&tampered, b"org:A"), Err(CryptoError::Tampered)),
                "byte {index}"
            );
        }
        let mut version = sealed.clone();
        version[0] = 9;
        assert!(matches!(
            key.open(&version, b"org:A"),
            Err(CryptoError::UnknownFormat(9))
        ));
        assert!(matches!(
            key.open(&sealed[..20], b"org:A"),
            Err(CryptoError::Truncated)
        ));
        assert!(matches!(
            key.open(&[], b"org:A"),
            Err(CryptoError::Truncated)
        ));
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = tempfile::TempDir::new().unwrap();
        let data = dir.path().join("data");
        let first = load_from(&data, None).unwrap();
        let path = data.join(KEY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        let second = load_from(&data, None).unwrap();
        let sealed = first.seal(b"kept", b"org:A");
        assert_eq!(second.open(&sealed, b"org:A").unwrap(), b"kept");
        assert!(format!("{first:?}").len() < 20);
        assert!(!format!("{first:?}").contains(text.trim()));
    }

    #[test]
    fn a_key_file_others_can_read_or_of_the_wrong_length_is_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        load_from(dir.path(), None).unwrap();
        let path = dir.path().join(KEY_FILE);
        for mode in [0o640, 0o604, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = load_from(dir.path(), None).unwrap_err();
            assert!(matches!(err, CryptoError::Permissions { .. }), "{err}");
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "abcd\n").unwrap();
        let err = load_from(dir.path(), None).unwrap_err();
        assert!(matches!(err, CryptoError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("4 characters"), "{err}");
        std::fs::write(&path, "zz".repeat(32)).unwrap();
        let err = load_from(dir.path(), None).unwrap_err();
        assert!(err.to_string().contains("not hexadecimal"), "{err}");
    }

    #[test]
    fn the_environment_variable_wins_over_the_key_file() {
        let dir = tempfile::TempDir::new().unwrap();
        let from_file = load_from(dir.path(), None).unwrap();
        let text = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let from_variable = load_from(dir.path(), Some(text)).unwrap();
        let expected = SecretKey::from_bytes([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
            0xcc, 0xdd, 0xee, 0xff,
        ]);
        let sealed = expected.seal(b"v", b"org:A");
        assert_eq!(from_variable.open(&sealed, b"org:A").unwrap(), b"v");
        assert!(from_file.open(&sealed, b"org:A").is_err());
        // Without a key file being made.
        let empty = tempfile::TempDir::new().unwrap();
        load_from(empty.path(), Some(text)).unwrap();
        assert!(!empty.path().join(KEY_FILE).exists());
        let err = load_from(empty.path(), Some("short")).unwrap_err();
        assert!(err.to_string().contains(KEY_VARIABLE), "{err}");
        assert!(!err.to_string().contains("short"), "{err}");
    }
}
