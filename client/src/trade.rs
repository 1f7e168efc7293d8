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
    /// [`RegistryClient::import_trade_records`] stream, one transaction), one after the other.
    /// Returns the answers of the slices stored; on an error, the slices stored before it and
    /// the error (loading the file again completes it: stored flows come back unchanged).
    pub async fn import_trade_file(
        &self,
        file: &str,
        records: Vec<pb::TradeRecord>,
        slice_rows: usize,
        validate_only: bool,
        progress: impl Fn(u64) + Clone + Send + Sync + 'static,
    ) -> std::result::Result<Vec<pb::ImportTradeRecordsResponse>, (Vec<pb::ImportTradeRecordsResponse>, crate::Error)>
    {
        let slice_rows = slice_rows.max(1);
        let slices = records.len().div_ceil(slice_rows).max(1);
        let mut done = Vec::with_capacity(slices);
        let mut records = records.into_iter().peekable();
        for i in 1..=slices {
            let slice: Vec<pb::TradeRecord> = records.by_ref().take(slice_rows).collect();
            let name = if slices == 1 {
                file.to_owned()
            } else {
                format!("{file} (slice {i} of {slices})")
            };
            match self
                .import_trade_records(name, slice, validate_only, progress.clone())
                .await
            {
                Ok(r) => done.push(r),
                Err(e) => return Err((done, e)),
            }
        }
        Ok(done)
    }
}
