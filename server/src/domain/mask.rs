//! Update masks (AIP-134): which fields an Update writes.

use super::{Error, Violations};

/// One resolved update-mask path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskPath {
    /// A whole top-level field.
    Field(&'static str),
    /// One key of `labels` (`labels.<key>`): set from the request, or removed when absent.
    Label(String),
}

/// Applies a `labels.<key>` path: the request's value for `key`, or its removal when the
/// request has none.
pub fn apply_label(
    labels: &mut std::collections::HashMap<String, String>,
    request: &std::collections::HashMap<String, String>,
    key: &str,
) {
    match request.get(key) {
        Some(v) => {
            labels.insert(key.to_owned(), v.clone());
        }
        None => {
            labels.remove(key);
        }
    }
}

/// The rules of one resource's update mask.
#[derive(Debug, Clone, Copy)]
pub struct MaskRules {
    pub writable: &'static [&'static str],
    pub output_only: &'static [&'static str],
    /// Fields that are not output only but are changed by a custom method, with its name.
    pub custom: &'static [(&'static str, &'static str)],
}

/// Resolves `update_mask`: `None` means every populated writable field; `*` means every
/// writable field. Unknown, output-only and custom-method paths are rejected, all at once.
pub fn resolve(
    rules: &MaskRules,
    paths: Option<&[String]>,
    populated: impl Fn(&str) -> bool,
) -> Result<Vec<MaskPath>, Error> {
    let Some(paths) = paths else {
        return Ok(rules
            .writable
            .iter()
            .filter(|f| populated(f))
            .map(|f| MaskPath::Field(f))
            .collect());
    };
    if paths.iter().any(|p| p == "*") {
        if paths.len() > 1 {
            return Err(Error::invalid("update_mask", "`*` must be the only path"));
        }
        return Ok(rules.writable.iter().map(|f| MaskPath::Field(f)).collect());
    }
    if paths.is_empty() {
        return Err(Error::invalid(
            "update_mask",
            "is empty; omit it to update every populated field, or use `*`",
        ));
    }
    let mut v = Violations::new();
    let mut out: Vec<MaskPath> = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        let field = format!("update_mask.paths[{i}]");
        let resolved = if let Some(f) = rules.writable.iter().find(|f| **f == p) {
            Some(MaskPath::Field(f))
        } else if let Some(key) = p.strip_prefix("labels.") {
            if rules.writable.contains(&"labels") && !key.is_empty() && key.len() <= 63 {
                Some(MaskPath::Label(key.to_owned()))
            } else {
                v.add(&field, format!("{p:?} is not a valid label path"));
                None
            }
        } else if let Some((_, method)) = rules.custom.iter().find(|(f, _)| *f == p) {
            v.add(&field, format!("{p:?} cannot be updated here; use {method}"));
            None
        } else if rules.output_only.contains(&p.as_str()) {
            v.add(&field, format!("{p:?} is output only"));
            None
        } else {
            v.add(
                &field,
                format!(
                    "unknown field {:?}; updatable: {}",
                    p.chars().take(80).collect::<String>(),
                    rules.writable.join(", ")
                ),
            );
            None
        };
        if let Some(r) = resolved {
            if out.contains(&r) {
                v.add(&field, format!("{p:?} appears twice"));
            } else {
                out.push(r);
            }
        }
    }
    v.finish(|| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: MaskRules = MaskRules {
        writable: &["title", "labels"],
        output_only: &["name", "etag"],
        custom: &[("state", "ChangeState")],
    };

    #[test]
    fn resolves_masks() {
        assert_eq!(
            resolve(&RULES, None, |f| f == "title"),
            Ok(vec![MaskPath::Field("title")])
        );
        assert_eq!(resolve(&RULES, Some(&["*".into()]), |_| false).map(|v| v.len()), Ok(2));
        assert_eq!(
            resolve(&RULES, Some(&["labels.env".into()]), |_| false),
            Ok(vec![MaskPath::Label("env".into())])
        );
        let Err(Error::InvalidArgument(v)) = resolve(
            &RULES,
            Some(&[
                "name".into(),
                "state".into(),
                "bogus".into(),
                "title".into(),
                "title".into(),
            ]),
            |_| false,
        ) else {
            panic!("expected violations")
        };
        assert_eq!(v.len(), 4, "{v:?}");
        assert!(resolve(&RULES, Some(&[]), |_| false).is_err());
        assert!(resolve(&RULES, Some(&["*".into(), "title".into()]), |_| false).is_err());
    }
}
