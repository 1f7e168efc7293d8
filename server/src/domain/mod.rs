//! Validated domain types. No tonic and no sqlx here: `api/` converts requests into these
//! types, `store/` persists them.

/// Declares the typed patch of a resource spec: an enum with one variant per writable field
/// (and `Label` for one `labels.<key>`), the patch (a list of them), and `set`, which writes
/// one field into the spec. The spec's own `apply` then checks the rules across fields.
macro_rules! patch_fields {
    ($(#[$m:meta])* $field:ident, $patch:ident for $spec:ty { $($(#[$vm:meta])* $variant:ident($ty:ty) => $member:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $field {
            $($(#[$vm])* $variant($ty),)+
            /// `labels.<key>`: set the key, or remove it (`None`).
            Label(String, Option<String>),
        }

        /// The fields a write sets, each already valid on its own.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $patch(pub Vec<$field>);

        impl $crate::domain::Spec for $spec {
            type Patch = $patch;
            fn apply_patch(&mut self, patch: $patch) -> Result<(), $crate::domain::Error> {
                self.apply(patch)
            }
        }

        impl $spec {
            /// A spec from a patch of every field (a create).
            pub fn new(patch: $patch) -> Result<$spec, $crate::domain::Error> {
                let mut spec = <$spec>::default();
                spec.apply(patch)?;
                Ok(spec)
            }

            /// Writes the patch's fields and checks the rules that span fields (`rules`, and
            /// the labels). Violation paths are field names (`pillar`, `labels[key]`).
            pub fn apply(&mut self, patch: $patch) -> Result<(), $crate::domain::Error> {
                for field in patch.0 {
                    self.set(field);
                }
                let mut v = $crate::domain::Violations::new();
                self.rules(&mut v);
                $crate::domain::check::labels(&mut v, "labels", &self.labels);
                v.finish(|| ())
            }

            fn set(&mut self, field: $field) {
                match field {
                    $($field::$variant(x) => self.$member = x,)+
                    $field::Label(k, Some(value)) => {
                        self.labels.insert(k, value);
                    }
                    $field::Label(k, None) => {
                        self.labels.remove(&k);
                    }
                }
            }
        }
    };
}

/// The field list of a soft-deletable resource (see `list::FieldDef`): its filterable and
/// orderable fields, then the ones every such resource has (labels, `search` over the given
/// text columns, the stamps, its name), its other fields, and the soft-delete and version
/// outputs.
macro_rules! resource_fields {
    // Other fields that are all plain: their names.
    ($own:tt, search $search:tt, plain [$($plain:literal),* $(,)?] $(,)?) => {
        resource_fields!($own, search $search, [$($crate::domain::list::FieldDef::plain($plain)),*])
    };
    ([$($own:expr),* $(,)?], search [$($column:literal),* $(,)?], [$($rest:expr),* $(,)?] $(,)?) => {
        &[
            $($own,)*
            $crate::domain::list::common::LABELS,
            $crate::domain::list::common::search(&[$($column),*]),
            $crate::domain::list::common::CREATE_TIME,
            $crate::domain::list::common::UPDATE_TIME,
            $crate::domain::list::common::NAME,
            $($rest,)*
            $crate::domain::list::common::DELETE_TIME,
            $crate::domain::list::common::EXPIRE_TIME,
            $crate::domain::list::common::ETAG,
            $crate::domain::list::common::REVISION,
        ]
    };
}

/// At most the first `max` characters of client text, quoted, for an error message.
pub fn shown(s: &str, max: usize) -> String {
    format!("{:?}", s.chars().take(max).collect::<String>())
}

/// INVALID_ARGUMENT for the client's `value` (its first `max` characters, quoted) and `why`
/// it is refused.
pub fn invalid_value(field: &str, value: &str, max: usize, why: &str) -> Error {
    Error::invalid(field, format!("{} {why}", shown(value, max)))
}

pub mod agreement;
pub mod check;
pub mod check_in;
pub mod cldr;
pub mod dependency;
pub mod enums;
mod error;
pub mod filter;
pub mod goal;
pub mod list;
pub mod mask;
pub mod measurement;
mod names;
pub mod partner;
pub mod product_set;
pub mod progress;
pub mod risk;
pub mod token;
pub mod trade;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub use error::{Error, FieldViolation, Reason, Violations};
pub use names::{Collection, Id};

/// Who is making a change, and under which idempotency key: recorded in the change log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The token id (or `anonymous`/`system`).
    pub id: String,
}

impl Actor {
    pub fn system() -> Self {
        Actor { id: "system".into() }
    }
}

/// The lifetime and revision of a stored top-level resource (goals, partners, …): one struct
/// flattened into each, so its JSON (snapshots, stored answers) keeps these fields at the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamps {
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delete_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expire_time: Option<OffsetDateTime>,
    pub revision: i64,
}

impl Stamps {
    /// The etag of resource `id` at these stamps.
    pub fn etag(&self, id: &Id) -> String {
        etag(id.as_str(), self.revision, self.create_time)
    }

    /// The cursor value of `create_time` or `update_time`, else of the id: what every
    /// resource's `sort_value` ends with.
    pub fn sort_value(&self, id: &Id, field: &str) -> list::SortValue {
        match field {
            "create_time" => list::SortValue::time(self.create_time),
            "update_time" => list::SortValue::time(self.update_time),
            _ => list::SortValue::Text(id.as_str().to_owned()),
        }
    }
}

/// A resource's spec: its writable fields, which a typed patch sets (see `patch_fields!`).
pub trait Spec: Clone + PartialEq + serde::Serialize + Send + Sync + 'static {
    type Patch: Send + 'static;
    /// Writes the patch's fields and checks the rules across fields.
    fn apply_patch(&mut self, patch: Self::Patch) -> Result<(), Error>;
}

/// A stored resource made of a spec, an id and [`Stamps`].
pub trait Stored {
    type Spec: Spec;
    fn spec(&self) -> &Self::Spec;
    fn stamps(&self) -> &Stamps;

    /// The spec this resource has after `patch` (the resource itself is unchanged).
    fn patched(&self, patch: <Self::Spec as Spec>::Patch) -> Result<Self::Spec, Error> {
        let mut spec = self.spec().clone();
        spec.apply_patch(patch)?;
        Ok(spec)
    }
}

/// Implements [`Stored`] for resources with `spec` and `stamps` fields.
macro_rules! stored {
    ($($res:ty => $spec:ty),+ $(,)?) => {$(
        impl $crate::domain::Stored for $res {
            type Spec = $spec;
            fn spec(&self) -> &$spec {
                &self.spec
            }
            fn stamps(&self) -> &$crate::domain::Stamps {
                &self.stamps
            }
        }
    )+};
}

stored!(
    agreement::TradeAgreement => agreement::AgreementSpec,
    goal::PolicyGoal => goal::GoalSpec,
    product_set::ProductSet => product_set::ProductSetSpec,
    risk::RiskEntry => risk::RiskSpec,
);

/// The opaque etag of a resource version. It changes with every revision and differs between
/// a resource and a later one re-created under the same name.
pub fn etag(id: &str, revision: i64, create_time: OffsetDateTime) -> String {
    let mut h = Sha256::new();
    h.update(id.as_bytes());
    h.update(revision.to_le_bytes());
    h.update(create_time.unix_timestamp_nanos().to_le_bytes());
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&h.finalize()[..12]))
}

/// The longest request id (idempotency key or `x-request-id`).
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether `id` is a usable request id: 1..=128 printable ASCII characters.
pub fn is_request_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Validates an idempotency key: 1..=128 printable ASCII characters; empty means none.
pub fn request_id(raw: &str) -> Result<Option<String>, Error> {
    if raw.is_empty() {
        return Ok(None);
    }
    if !is_request_id(raw) {
        return Err(Error::invalid(
            "request_id",
            "must be 1-128 printable ASCII characters without spaces (a UUID is ideal)",
        ));
    }
    Ok(Some(raw.to_owned()))
}
