//! Agreements in PostgreSQL. A write locks the parties it names (`FOR SHARE`) and checks they
//! are live, as a goal does its linked partners; the derived status is stored beside the
//! events so that lists can filter on it.

use std::collections::BTreeMap;

use sqlx::{Postgres, Transaction, types::Json};

use super::{
    Change, Store, WriteCtx, db_error,
    resource::{Meta, Writable},
};
use crate::domain::{
    Collection, Error, Id, Reason,
    agreement::{self, AgreementEvent, AgreementSpec, KOREA, TradeAgreement},
    enums::{AgreementKind, AgreementState},
    list::SortValue,
};

const AGREEMENTS: Collection = Collection::Agreements;

#[derive(sqlx::FromRow)]
pub struct AgreementRow {
    #[sqlx(flatten)]
    stamps: super::resource::StampRow,
    title: String,
    title_ko: String,
    kind: String,
    parties: Vec<String>,
    events: Json<Vec<AgreementEvent>>,
    description: String,
    source: String,
    labels: Json<BTreeMap<String, String>>,
}

impl TryFrom<AgreementRow> for TradeAgreement {
    type Error = Error;
    fn try_from(r: AgreementRow) -> Result<Self, Error> {
        let (id, stamps, c) = r.stamps.read("agreement")?;
        Ok(TradeAgreement {
            spec: AgreementSpec {
                title: r.title,
                title_ko: r.title_ko,
                kind: c.value(&r.kind, AgreementKind::parse, "kind")?,
                parties: c.ids(r.parties, "party")?,
                events: r.events.0,
                description: r.description,
                source: r.source,
                labels: r.labels.0,
            },
            stamps,
            id,
        })
    }
}

super::resource::own_row_resource!(TradeAgreement: AgreementRow, AGREEMENTS, agreement::FIELDS, "agreements");

/// Live partners with an engagement that follows up the agreement `id` (at most 5, by id).
async fn partners_following_up(tx: &mut Transaction<'static, Postgres>, id: &Id) -> Result<Vec<String>, Error> {
    sqlx::query_scalar(
        "SELECT t.id FROM trade_partners t
         WHERE t.delete_time IS NULL AND EXISTS (
             SELECT 1 FROM jsonb_array_elements(t.engagements) e WHERE e->>'agreement' = $1)
         ORDER BY t.id LIMIT 5",
    )
    .bind(id.as_str())
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)
}

impl Writable for TradeAgreement {
    const CREATE: &'static str = "CreateTradeAgreement";
    const FIELD: &'static str = "trade_agreement";

    super::resource::writable_columns!(spec: AgreementSpec {
        title,
        title_ko,
        kind: spec.kind.as_str(),
        parties: super::resource::ids(&spec.parties),
        events: Json(&spec.events),
        status: spec.status().map(AgreementState::as_str),
        description,
        source,
        labels: Json(&spec.labels),
    });

    /// Its parties (`tradePartners/kr` need not be recorded: Korea is implied).
    async fn check_links(
        tx: &mut Transaction<'static, Postgres>,
        _id: &Id,
        spec: &AgreementSpec,
        current: Option<&Self>,
    ) -> Result<(), Error> {
        if current.is_some_and(|c| c.spec.parties == spec.parties) {
            return Ok(());
        }
        let named: Vec<Id> = spec.parties.iter().filter(|p| p.as_str() != KOREA).cloned().collect();
        super::partners::lock_live_partners(tx, &named, "trade_agreement.parties")
            .await
            .map(|_| ())
    }

    /// Live partners' engagements that follow up the agreement make a delete
    /// FAILED_PRECONDITION (`LINKED_BY_PARTNERS`), unless `force`, which removes their
    /// references (each changed partner gets a new revision in the change log).
    async fn release<'a, 'c>(
        _store: &'a Store,
        tx: &'a mut Transaction<'static, Postgres>,
        current: &'a Self,
        force: bool,
        ctx: &'c WriteCtx,
    ) -> Result<Vec<Change<'c>>, Error> {
        let following = partners_following_up(tx, &current.id).await?;
        if following.is_empty() {
            return Ok(Vec::new());
        }
        if !force {
            let what = "is followed up by engagements of live partners";
            let following = following.iter().map(String::as_str);
            let fix = "remove those references first";
            super::refuse_linked(
                current.name(),
                Reason::LinkedByPartners,
                what,
                Collection::TradePartners,
                following,
                fix,
            )?;
        }
        super::partners::unlink_agreement_from_engagements(tx, &current.id, ctx).await
    }
}

impl Store {
    /// Purges soft-deleted agreements past their expire time that no engagement references.
    pub(super) async fn purge_expired_agreements(&self) -> Result<u64, Error> {
        self.purge_in_batches(
            "DELETE FROM agreements a WHERE a.id IN (
                SELECT id FROM agreements x WHERE x.expire_time < now()
                  AND NOT EXISTS (SELECT 1 FROM trade_partners t, jsonb_array_elements(t.engagements) e
                                  WHERE e->>'agreement' = x.id)
                LIMIT 500 FOR UPDATE SKIP LOCKED)
             RETURNING a.id",
            AGREEMENTS,
        )
        .await
    }
}
