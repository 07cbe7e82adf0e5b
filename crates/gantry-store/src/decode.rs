//! Reading row types from either backend's rows: one hand-written `decode` per row type over the
//! [`Columns`] trait, and [`from_row!`] to turn it into sqlx's `FromRow` for both row kinds.
//!
//! Hand-written because timestamps (integer milliseconds → `jiff::Timestamp`) and enumerations
//! (text → enum) need conversions that `#[derive(FromRow)]` cannot express for foreign types.

use std::str::FromStr;

use jiff::Timestamp;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

/// Typed access to the columns of a row, by name.
pub(crate) trait Columns {
    fn int(&self, col: &str) -> sqlx::Result<i64>;
    fn opt_int(&self, col: &str) -> sqlx::Result<Option<i64>>;
    fn text(&self, col: &str) -> sqlx::Result<String>;
    fn opt_text(&self, col: &str) -> sqlx::Result<Option<String>>;
    fn flag(&self, col: &str) -> sqlx::Result<bool>;
    fn bytes(&self, col: &str) -> sqlx::Result<Vec<u8>>;
    fn opt_bytes(&self, col: &str) -> sqlx::Result<Option<Vec<u8>>>;

    fn time(&self, col: &str) -> sqlx::Result<Timestamp> {
        to_time(col, self.int(col)?)
    }

    fn opt_time(&self, col: &str) -> sqlx::Result<Option<Timestamp>> {
        self.opt_int(col)?.map(|ms| to_time(col, ms)).transpose()
    }

    /// A column holding an enumeration's name.
    fn parse<T: FromStr<Err = UnknownName>>(&self, col: &str) -> sqlx::Result<T> {
        let text = self.text(col)?;
        text.parse().map_err(|err| decode_error(col, err))
    }

    fn opt_parse<T: FromStr<Err = UnknownName>>(&self, col: &str) -> sqlx::Result<Option<T>> {
        match self.opt_text(col)? {
            Some(text) => text.parse().map(Some).map_err(|err| decode_error(col, err)),
            None => Ok(None),
        }
    }
}

/// An enumeration's name the store does not know (a newer schema, or a hand-edited row).
#[derive(Debug, thiserror::Error)]
#[error("unknown {kind} `{name}`")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
}

fn to_time(col: &str, ms: i64) -> sqlx::Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|err| decode_error(col, err))
}

fn decode_error(col: &str, err: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: col.to_string(),
        source: Box::new(err),
    }
}

macro_rules! columns_for {
    ($row:ty) => {
        impl Columns for $row {
            fn int(&self, col: &str) -> sqlx::Result<i64> {
                self.try_get(col)
            }
            fn opt_int(&self, col: &str) -> sqlx::Result<Option<i64>> {
                self.try_get(col)
            }
            fn text(&self, col: &str) -> sqlx::Result<String> {
                self.try_get(col)
            }
            fn opt_text(&self, col: &str) -> sqlx::Result<Option<String>> {
                self.try_get(col)
            }
            fn flag(&self, col: &str) -> sqlx::Result<bool> {
                self.try_get(col)
            }
            fn bytes(&self, col: &str) -> sqlx::Result<Vec<u8>> {
                self.try_get(col)
            }
            fn opt_bytes(&self, col: &str) -> sqlx::Result<Option<Vec<u8>>> {
                self.try_get(col)
            }
        }
    };
}
columns_for!(SqliteRow);
columns_for!(PgRow);

/// Implements `FromRow` for both backends' rows with the type's `decode(&impl Columns)`.
macro_rules! from_row {
    ($($ty:ty),* $(,)?) => {
        $(
            impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for $ty {
                fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> sqlx::Result<Self> {
                    <$ty>::decode(row)
                }
            }
            impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for $ty {
                fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
                    <$ty>::decode(row)
                }
            }
        )*
    };
}
pub(crate) use from_row;
