//! Resource names: `policyGoals/{goal}`, `tradePartners/{partner}`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Error, check::is_slug};

/// A validated resource id: `[a-z][a-z0-9-]{0,62}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Id(String);

impl Id {
    pub fn parse(field: &str, s: &str) -> Result<Self, Error> {
        if is_slug(s) {
            Ok(Id(s.to_owned()))
        } else {
            let why = "is not a valid id: use 1-63 characters of lowercase letters, digits and single hyphens, starting with a letter";
            Err(crate::domain::invalid_value(field, s, 80, why))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Id {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if is_slug(&s) {
            Ok(Id(s))
        } else {
            Err(format!("invalid id {s:?}"))
        }
    }
}

impl From<Id> for String {
    fn from(id: Id) -> String {
        id.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A collection of top-level resources and the id within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    PolicyGoals,
    TradePartners,
    ProductSets,
    Agreements,
    Risks,
    /// Check-ins of goals: a child collection (`policyGoals/{goal}/checkIns/{check_in}`); its
    /// names are made by `domain::check_in`, `prefix` is the last segment only.
    CheckIns,
}

/// INVALID_ARGUMENT: `name` (its first `shown` characters) is not of the form `form`.
pub fn not_of_form(field: &str, name: &str, form: &str, shown: usize) -> Error {
    crate::domain::invalid_value(field, name, shown, &format!("must be of the form {form}"))
}

impl Collection {
    pub const fn prefix(self) -> &'static str {
        match self {
            Collection::PolicyGoals => "policyGoals",
            Collection::TradePartners => "tradePartners",
            Collection::ProductSets => "productSets",
            Collection::Agreements => "agreements",
            Collection::Risks => "risks",
            Collection::CheckIns => "checkIns",
        }
    }

    /// The type name used in `ResourceInfo` and the change feed.
    pub const fn resource_type(self) -> &'static str {
        match self {
            Collection::PolicyGoals => "motie.registry.v1.PolicyGoal",
            Collection::TradePartners => "motie.registry.v1.TradePartner",
            Collection::ProductSets => "motie.registry.v1.ProductSet",
            Collection::Agreements => "motie.registry.v1.TradeAgreement",
            Collection::Risks => "motie.registry.v1.RiskEntry",
            Collection::CheckIns => "motie.registry.v1.CheckIn",
        }
    }

    /// Parses `{prefix}/{id}` into the id, naming `field` in the violation.
    pub fn parse_name(self, field: &str, name: &str) -> Result<Id, Error> {
        let expected = format!("must be of the form {}/{{id}}", self.prefix());
        if name.is_empty() {
            return Err(Error::invalid(field, format!("is required; {expected}")));
        }
        match name.split_once('/') {
            Some((p, id)) if p == self.prefix() => Id::parse(field, id),
            _ => Err(crate::domain::invalid_value(field, name, 80, &expected)),
        }
    }

    /// Parses the name of a child resource, `{prefix}/{id}/{children}/{child}`, into the
    /// parent's id and the child's segment; any other form is refused by [`not_of_form`].
    pub fn parse_child_name<'a>(
        self,
        field: &str,
        name: &'a str,
        children: &str,
        form: &str,
        shown: usize,
    ) -> Result<(Id, &'a str), Error> {
        let mut parts = name.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(p), Some(parent), Some(c), Some(child), None) if p == self.prefix() && c == children => {
                Ok((Id::parse(field, parent)?, child))
            }
            _ => Err(not_of_form(field, name, form, shown)),
        }
    }

    pub fn name(self, id: &Id) -> String {
        format!("{}/{}", self.prefix(), id)
    }

    /// The names of `ids`, in order.
    pub fn names(self, ids: &[Id]) -> Vec<String> {
        ids.iter().map(|id| self.name(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        let id = Collection::PolicyGoals
            .parse_name("name", "policyGoals/ai-factories")
            .expect("valid");
        assert_eq!(id.as_str(), "ai-factories");
        assert_eq!(Collection::PolicyGoals.name(&id), "policyGoals/ai-factories");
        for bad in [
            "",
            "policyGoals/",
            "policyGoals/../x",
            "tradePartners/us",
            "policyGoals/a/b",
            "policygoals/a",
            "policyGoals/A",
        ] {
            assert!(Collection::PolicyGoals.parse_name("name", bad).is_err(), "{bad}");
        }
    }
}
