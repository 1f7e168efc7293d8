//! Bulk trade records. Product sets are written by the tables of `resource.rs`, the
//! import-dependency analysis lists in `pages.rs`.

use futures::{StreamExt, stream};

use crate::{RegistryClient, Result, page, pb};

/// Records per slice of [`RegistryClient::import_trade_file`]: one transaction each, well
/// within the server's request deadline.
pub const SLICE_ROWS: usize = 250_000;

/// Records per message of an [`RegistryClient::import_trade_records`] stream (well under the
/// server's 4 MiB message limit even with 200-character sources).
pub const IMPORT_CHUNK: usize = 10_000;

impl RegistryClient {
    /// Loads `records` as one slice (one server transaction: all or nothing), streamed in
    /// chunks of [`IMPORT_CHUNK`]. `progress` is called with the number of records of each
    /// chunk as it is handed to the stream. Not retried: run it again (a re-load changes
    /// nothing that is already stored).
    pub async fn import_trade_records(
        &self,
        slice: impl Into<String>,
        records: Vec<pb::TradeRecord>,
        validate_only: bool,
        progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> Result<pb::ImportTradeRecordsResponse> {
        let slice = slice.into();
        let mut chunks: Vec<Vec<pb::TradeRecord>> = Vec::new();
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            chunks.push(records.by_ref().take(IMPORT_CHUNK).collect());
        }
        if chunks.is_empty() {
            chunks.push(Vec::new());
        }
        let messages = stream::iter(chunks.into_iter().enumerate()).map(move |(i, records)| {
            progress(records.len() as u64);
            pb::ImportTradeRecordsRequest {
                slice: if i == 0 { slice.clone() } else { String::new() },
                records,
                validate_only,
            }
        });
        page(self.trade.clone().import_trade_records(messages).await)
    }

    /// Loads a file's records in slices of at most `slice_rows` (each one
    /// [`RegistryClient::import_trade_records`] stream, one transaction). Two slices are in
    /// flight at a time: the server stages one while it merges the other (merges take turns;
    /// a file gives each flow once, so their order does not change what is stored). Returns
    /// the answers of the slices stored, in file order; on an error, no further slice starts,
    /// the one in flight finishes, and the answers of the slices stored come back with the
    /// first error (loading the file again completes it: stored flows come back unchanged).
    pub async fn import_trade_file(
        &self,
        file: &str,
        records: Vec<pb::TradeRecord>,
        slice_rows: usize,
        validate_only: bool,
        progress: impl Fn(u64) + Clone + Send + Sync + 'static,
    ) -> std::result::Result<Vec<pb::ImportTradeRecordsResponse>, (Vec<pb::ImportTradeRecordsResponse>, crate::Error)>
    {
        /// Slices in flight at a time.
        const IN_FLIGHT: usize = 2;
        let slice_rows = slice_rows.max(1);
        let slices = records.len().div_ceil(slice_rows).max(1);
        let mut records = records.into_iter().peekable();
        let mut next = (1..=slices).map(move |i| {
            let slice: Vec<pb::TradeRecord> = records.by_ref().take(slice_rows).collect();
            let name = if slices == 1 {
                file.to_owned()
            } else {
                format!("{file} (slice {i} of {slices})")
            };
            self.import_trade_records(name, slice, validate_only, progress.clone())
        });
        let mut in_flight = futures::stream::FuturesOrdered::new();
        in_flight.extend(next.by_ref().take(IN_FLIGHT));
        let (mut done, mut failed) = (Vec::with_capacity(slices), None);
        while let Some(answer) = in_flight.next().await {
            match answer {
                Ok(r) => done.push(r),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
            if failed.is_none() {
                in_flight.extend(next.next());
            }
        }
        match failed {
            None => Ok(done),
            Some(e) => Err((done, e)),
        }
    }
}
