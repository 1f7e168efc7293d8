//! Update masks (AIP-134): which fields an Update writes.

use super::{
    Error, Violations,
    list::{FieldDef, Write},
};

/// One resolved update-mask path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaskPath {
    /// A whole top-level field.
    Field(&'static str),
    /// One key of `labels` (`labels.<key>`): set from the request, or removed when absent.
    Label(String),
}

/// The update-mask paths of a resource's fields: those it may write, in description order.
pub fn writable(fields: &[FieldDef]) -> impl Iterator<Item = &'static str> + '_ {
    fields
        .iter()
        .filter(|f| matches!(f.write, Write::Input | Write::Immutable))
        .map(|f| f.name)
}

/// Resolves `update_mask` against a resource's fields: `None` means every populated writable
/// field; `*` means every writable field. Unknown, output-only and custom-method paths are
/// rejected, all at once.
pub fn resolve(
    fields: &[FieldDef],
    paths: Option<&[String]>,
    populated: impl Fn(&str) -> bool,
) -> Result<Vec<MaskPath>, Error> {
    let Some(paths) = paths else {
        return Ok(writable(fields).filter(|f| populated(f)).map(MaskPath::Field).collect());
    };
    if paths.iter().any(|p| p == "*") {
        if paths.len() > 1 {
            return Err(Error::invalid("update_mask", "`*` must be the only path"));
        }
        return Ok(writable(fields).map(MaskPath::Field).collect());
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
        let def = fields.iter().find(|f| f.name == p && f.write != Write::None);
        let resolved = if let Some(f) = def.filter(|f| matches!(f.write, Write::Input | Write::Immutable)) {
            Some(MaskPath::Field(f.name))
        } else if let Some(key) = p.strip_prefix("labels.") {
            if writable(fields).any(|f| f == "labels") && !key.is_empty() && key.len() <= 63 {
                Some(MaskPath::Label(key.to_owned()))
            } else {
                v.add(&field, format!("{p:?} is not a valid label path"));
                None
            }
        } else if let Some(Write::Custom(method)) = def.map(|f| f.write) {
            v.add(&field, format!("{p:?} cannot be updated here; use {method}"));
            None
        } else if def.is_some() {
            v.add(&field, format!("{p:?} is output only"));
            None
        } else {
            v.add(
                &field,
                format!(
                    "unknown field {}; updatable: {}",
                    crate::domain::shown(p, 80),
                    writable(fields).collect::<Vec<_>>().join(", ")
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

    use crate::domain::list::{FieldKind, common};

    const RULES: &[FieldDef] = &[
        FieldDef::plain("title"),
        common::LABELS,
        common::NAME,
        common::ETAG,
        FieldDef::output("state").written(Write::Custom("ChangeState")),
    ];
    const _: FieldKind = FieldKind::Text;

    #[test]
    fn resolves_masks() {
        assert_eq!(
            resolve(RULES, None, |f| f == "title"),
            Ok(vec![MaskPath::Field("title")])
        );
        assert_eq!(resolve(RULES, Some(&["*".into()]), |_| false).map(|v| v.len()), Ok(2));
        assert_eq!(
            resolve(RULES, Some(&["labels.env".into()]), |_| false),
            Ok(vec![MaskPath::Label("env".into())])
        );
        let Err(Error::InvalidArgument(v)) = resolve(
            RULES,
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
        assert!(resolve(RULES, Some(&[]), |_| false).is_err());
        assert!(resolve(RULES, Some(&["*".into(), "title".into()]), |_| false).is_err());
    }
}
