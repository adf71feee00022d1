//! Loading the identity key and guarding the register against a change of
//! key.
//!
//! The key comes from `FEDERATION_IDENTITY_KEY_FILE` when set; otherwise one
//! is generated on first start and kept in table `identity_key`. Either way
//! the key's fingerprint is stored, and a start with a different key is
//! refused while people are registered: their identity keys would no longer
//! match, and every person would be registered anew as a stranger.

use std::path::Path;

use flatgov_grpc::StartError;
use rand::RngCore as _;
use sqlx::PgPool;

use crate::domain::identity::IdentityHasher;

#[derive(sqlx::FromRow)]
struct StoredKey {
    fingerprint: Vec<u8>,
    key: Option<Vec<u8>>,
}

/// The hasher to use, after checking it against the stored fingerprint.
pub async fn load(pool: &PgPool, key_file: Option<&Path>) -> Result<IdentityHasher, StartError> {
    let configured = match key_file {
        Some(path) => Some(read_key_file(path)?),
        None => None,
    };
    let database = |error: sqlx::Error| StartError::Other(format!("identity key: {error}"));
    let mut transaction = pool.begin().await.map_err(database)?;
    // One starter at a time decides the key.
    sqlx::query("lock table identity_key in exclusive mode")
        .execute(&mut *transaction)
        .await
        .map_err(database)?;
    let stored: Option<StoredKey> = sqlx::query_as("select fingerprint, key from identity_key")
        .fetch_optional(&mut *transaction)
        .await
        .map_err(database)?;
    let people: i64 = sqlx::query_scalar("select count(*) from people")
        .fetch_one(&mut *transaction)
        .await
        .map_err(database)?;

    let hasher = match (configured, stored) {
        (Some(configured), Some(stored)) if stored.fingerprint == configured.fingerprint() => {
            configured
        }
        (Some(configured), stored) => {
            if stored.is_some() && people > 0 {
                return Err(StartError::Other(format!(
                    "FEDERATION_IDENTITY_KEY_FILE holds a different key from the one the register of \
                     {people} people was built with; restore the original key"
                )));
            }
            replace(&mut transaction, &configured, None)
                .await
                .map_err(database)?;
            configured
        }
        (
            None,
            Some(StoredKey {
                key: Some(key),
                fingerprint,
            }),
        ) => {
            let hasher = IdentityHasher::new(key)
                .map_err(|error| StartError::Other(format!("stored identity key: {error}")))?;
            if hasher.fingerprint() != fingerprint {
                return Err(StartError::Other(
                    "the stored identity key does not match its fingerprint".into(),
                ));
            }
            tracing::warn!(
                "identity key is kept in the database; set FEDERATION_IDENTITY_KEY_FILE in production"
            );
            hasher
        }
        (None, Some(StoredKey { key: None, .. })) if people > 0 => {
            return Err(StartError::Other(format!(
                "the register of {people} people was built with the key from FEDERATION_IDENTITY_KEY_FILE; \
                 set the variable again"
            )));
        }
        (None, _) => {
            let mut key = vec![0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let generated = IdentityHasher::new(key)
                .map_err(|error| StartError::Other(format!("generated identity key: {error}")))?;
            replace(&mut transaction, &generated, Some(generated.key()))
                .await
                .map_err(database)?;
            tracing::warn!(
                "generated an identity key and kept it in the database; set FEDERATION_IDENTITY_KEY_FILE in production"
            );
            generated
        }
    };
    transaction.commit().await.map_err(database)?;
    Ok(hasher)
}

async fn replace(
    transaction: &mut sqlx::PgConnection,
    hasher: &IdentityHasher,
    kept_key: Option<&[u8]>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into identity_key (singleton, fingerprint, key) values (true, $1, $2)
         on conflict (singleton) do update set fingerprint = excluded.fingerprint, key = excluded.key,
                                               created_at = now()",
    )
    .bind(hasher.fingerprint())
    .bind(kept_key)
    .execute(transaction)
    .await?;
    Ok(())
}

fn read_key_file(path: &Path) -> Result<IdentityHasher, StartError> {
    let bytes = std::fs::read(path).map_err(|error| {
        StartError::Other(format!(
            "cannot read FEDERATION_IDENTITY_KEY_FILE {}: {error}",
            path.display()
        ))
    })?;
    let trimmed = bytes.trim_ascii().to_vec();
    IdentityHasher::new(trimmed).map_err(|error| {
        StartError::Other(format!(
            "FEDERATION_IDENTITY_KEY_FILE {}: {error}",
            path.display()
        ))
    })
}
