//! The field flags of `create` and `update`, one description per kind: the plain fields come
//! from the proto's descriptor ([`PlainFlags`]); the others (lists, references, enums the
//! record spells on its own) from the kind's [`FlagTable`]; every kind has `--label`.

use std::marker::PhantomData;

use clap::{Arg, ArgAction, ArgMatches, builder::ValueParser};
use serde::{Serialize, Serializer, ser::SerializeMap};

use crate::{
    plain::{PlainFlags, Shape},
    records::parse_label,
};

/// One flag: `--{long} {value_name}`, given once (the field's new value) or, when `many`,
/// repeated (the field's new list; it replaces the stored one).
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// The record's field the flag sets.
    pub field: &'static str,
    pub long: &'static str,
    pub value_name: &'static str,
    pub help: &'static str,
    pub many: bool,
}

impl Flag {
    /// A flag given once: the field's new value.
    pub const fn one(field: &'static str, long: &'static str, value_name: &'static str, help: &'static str) -> Flag {
        Flag {
            field,
            long,
            value_name,
            help,
            many: false,
        }
    }

    /// A repeated flag: the field's new list.
    pub const fn many(field: &'static str, long: &'static str, value_name: &'static str, help: &'static str) -> Flag {
        Flag {
            field,
            long,
            value_name,
            help,
            many: true,
        }
    }
}

/// [`FlagTable`]s, one line a flag: `Name: [lead flags] [flags]` each, each flag
/// `one|many field "long" "VALUE" "help"` (help without a final period, as clap shows it).
macro_rules! flag_table {
    ($(
        $(#[$doc:meta])*
        $name:ident: [$($lmode:ident $lfield:ident $llong:literal $lvalue:literal $lhelp:literal),* $(,)?]
        [$($mode:ident $field:ident $long:literal $value:literal $help:literal),* $(,)?]
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl $crate::flags::FlagTable for $name {
            const LEAD: &'static [$crate::flags::Flag] =
                &[$($crate::flags::Flag::$lmode(stringify!($lfield), $llong, $lvalue, $lhelp)),*];
            const FLAGS: &'static [$crate::flags::Flag] =
                &[$($crate::flags::Flag::$mode(stringify!($field), $long, $value, $help)),*];
        }
    )*};
}
pub(crate) use flag_table;

/// The flags of a kind besides its plain fields, in the order `--help` shows them.
pub trait FlagTable: 'static {
    /// Before the plain fields.
    const LEAD: &'static [Flag] = &[];
    /// After the plain fields (and before `--label`).
    const FLAGS: &'static [Flag];
}

/// What a flag was given: one value, or the values of its repeats.
#[derive(Debug, Clone)]
enum Given {
    One(Option<String>),
    Many(Vec<String>),
}

impl Serialize for Given {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Given::One(v) => v.serialize(s),
            Given::Many(v) => v.serialize(s),
        }
    }
}

/// The field flags of kind `T` with plain fields `S`: `T::LEAD`, the plain fields, `T::FLAGS`,
/// then `--label KEY=VALUE` (repeat). Serialised as a mapping of the record's fields (absent
/// flags as null or an empty list), the input of an update mask.
pub struct KindFlags<S, T> {
    lead: Vec<(&'static str, Given)>,
    plain: PlainFlags<S>,
    flags: Vec<(&'static str, Given)>,
    labels: Vec<(String, String)>,
    table: PhantomData<T>,
}

impl<S, T> Default for KindFlags<S, T> {
    fn default() -> Self {
        KindFlags {
            lead: Vec::new(),
            plain: PlainFlags::default(),
            flags: Vec::new(),
            labels: Vec::new(),
            table: PhantomData,
        }
    }
}

impl<S, T> std::fmt::Debug for KindFlags<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindFlags")
            .field("lead", &self.lead)
            .field("plain", &self.plain)
            .field("flags", &self.flags)
            .field("labels", &self.labels)
            .finish()
    }
}

impl<S, T> Serialize for KindFlags<S, T> {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        let mut map = s.serialize_map(None)?;
        for (field, given) in &self.lead {
            map.serialize_entry(field, given)?;
        }
        for (field, value) in self.plain.entries() {
            map.serialize_entry(field, value)?;
        }
        for (field, given) in &self.flags {
            map.serialize_entry(field, given)?;
        }
        map.serialize_entry("labels", &self.labels)?;
        map.end()
    }
}

fn arg(f: &Flag) -> Arg {
    let arg = Arg::new(f.field).long(f.long).value_name(f.value_name).help(f.help);
    if f.many {
        arg.action(ArgAction::Append)
    } else {
        arg.action(ArgAction::Set)
    }
}

fn given(m: &ArgMatches, table: &[Flag]) -> Vec<(&'static str, Given)> {
    table
        .iter()
        .map(|f| {
            let given = if f.many {
                Given::Many(
                    m.try_get_many::<String>(f.field)
                        .ok()
                        .flatten()
                        .map(|v| v.cloned().collect())
                        .unwrap_or_default(),
                )
            } else {
                Given::One(m.try_get_one::<String>(f.field).ok().flatten().cloned())
            };
            (f.field, given)
        })
        .collect()
}

impl<S: Shape, T: FlagTable> clap::FromArgMatches for KindFlags<S, T> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(KindFlags {
            lead: given(m, T::LEAD),
            plain: PlainFlags::from_arg_matches(m)?,
            flags: given(m, T::FLAGS),
            labels: m
                .try_get_many::<(String, String)>("labels")
                .ok()
                .flatten()
                .map(|v| v.cloned().collect())
                .unwrap_or_default(),
            table: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl<S: Shape, T: FlagTable> clap::Args for KindFlags<S, T> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        let cmd = T::LEAD.iter().fold(cmd, |cmd, f| cmd.arg(arg(f)));
        let cmd = PlainFlags::<S>::augment_args(cmd);
        let cmd = T::FLAGS.iter().fold(cmd, |cmd, f| cmd.arg(arg(f)));
        cmd.arg(
            Arg::new("labels")
                .long("label")
                .value_name("KEY=VALUE")
                .help("A label KEY=VALUE (repeat)")
                .action(ArgAction::Append)
                .value_parser(ValueParser::new(parse_label)),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}
