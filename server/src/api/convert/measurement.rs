//! Measurement <-> proto.

use registry_proto::v1 as pb;
use time::OffsetDateTime;

use super::timestamp;
use crate::domain::{
    Violations, check,
    measurement::{MAX_CLOCK_SKEW, Measurement, MeasurementSpec},
};

impl MeasurementSpec {
    /// Validates `m` (violations are `{prefix}.{field}`). `observe_time` is the already
    /// converted `m.observe_time` (`None` when absent or invalid, which the caller reported).
    pub fn from_proto(
        v: &mut Violations,
        prefix: &str,
        m: &pb::Measurement,
        observe_time: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Option<MeasurementSpec> {
        let before = v.len();
        let f = |name: &str| format!("{prefix}.{name}");
        if !check::is_slug(&m.metric) {
            v.add(
                f("metric"),
                "is required: the metric of one of the goal's targets ([a-z][a-z0-9-]{0,62})",
            );
        }
        check::finite(v, &f("value"), m.value);
        if m.observe_time.is_none() {
            v.add(f("observe_time"), "is required");
        }
        if let Some(t) = observe_time
            && t > now + MAX_CLOCK_SKEW
        {
            v.add(f("observe_time"), "must not be in the future");
        }
        check::text(v, &f("source"), &m.source, false, check::MAX_SHORT_TEXT, false);
        check::text(v, &f("note"), &m.note, false, check::MAX_SHORT_TEXT, true);
        let observe_time = observe_time?;
        (v.len() == before).then(|| MeasurementSpec {
            metric: m.metric.clone(),
            value: m.value,
            observe_time: observe_time
                .replace_nanosecond(observe_time.nanosecond() / 1000 * 1000)
                .unwrap_or(observe_time),
            source: m.source.clone(),
            note: m.note.clone(),
        })
    }
}

impl Measurement {
    pub fn to_proto(&self) -> pb::Measurement {
        pb::Measurement {
            name: self.name(),
            metric: self.metric.clone(),
            value: self.value,
            observe_time: Some(timestamp(self.observe_time)),
            source: self.source.clone(),
            note: self.note.clone(),
            create_time: Some(timestamp(self.create_time)),
            recorder: self.recorder.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_every_field() {
        let now = OffsetDateTime::now_utc();
        let mut v = Violations::new();
        let m = pb::Measurement {
            metric: "Bad Metric".into(),
            value: f64::INFINITY,
            note: "a\0b".into(),
            ..Default::default()
        };
        assert!(MeasurementSpec::from_proto(&mut v, "measurement", &m, None, now).is_none());
        let fields: Vec<_> = v.into_vec().into_iter().map(|f| f.field).collect();
        for want in [
            "measurement.metric",
            "measurement.value",
            "measurement.observe_time",
            "measurement.note",
        ] {
            assert!(fields.iter().any(|f| f == want), "{want} missing from {fields:?}");
        }

        let mut v = Violations::new();
        let m = pb::Measurement {
            metric: "ai-factories".into(),
            value: 3.5,
            observe_time: Some(prost_types::Timestamp::default()),
            ..Default::default()
        };
        let future = now + time::Duration::hours(1);
        assert!(MeasurementSpec::from_proto(&mut v, "m", &m, Some(future), now).is_none());
        let mut v = Violations::new();
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap_or(now);
        let spec = MeasurementSpec::from_proto(&mut v, "m", &m, Some(at), now);
        assert_eq!(spec.map(|s| s.observe_time.nanosecond()), Some(123_456_000));
    }
}
