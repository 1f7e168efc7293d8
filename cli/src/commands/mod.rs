//! The commands, each on a connected [`RegistryClient`].

pub mod data;
pub mod feed;
pub mod goals;
pub mod kinds;
pub mod partners;
pub mod resource;
pub mod tokens;
pub mod trade;

use futures::{StreamExt, TryStreamExt};
use registry_client::{Listed, RegistryClient};

use crate::{
    Cli, Command, Global,
    error::{CliError, CliResult, Context},
    kind::{Agreements, ProductSets, Risks},
    output::{self, Columns, Format},
};

/// What every command gets.
pub struct Ctx {
    pub client: RegistryClient,
    pub format: Format,
    pub quiet: bool,
}

impl Ctx {
    /// A status message on stderr, unless `--quiet`.
    pub fn note(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// Every item `req` lists (the first `limit` only, when given), page after page; an
    /// error says it happened while doing `what`.
    pub async fn list_all<R: Listed>(
        &self,
        req: R,
        limit: Option<usize>,
        what: impl Into<String>,
    ) -> CliResult<Vec<R::Item>> {
        let stream = self.client.pages(req);
        match limit {
            Some(l) => stream.take(l).try_collect().await,
            None => stream.try_collect().await,
        }
        .context(what)
    }

    /// Lists as [`Ctx::list_all`] does and prints each item as the view `view` makes of it.
    pub async fn print_all<R: Listed, V: Columns>(
        &self,
        req: R,
        limit: Option<usize>,
        what: impl Into<String>,
        view: impl Fn(R::Item) -> V,
    ) -> CliResult {
        let items = self.list_all(req, limit, what).await?;
        let views: Vec<V> = items.into_iter().map(view).collect();
        output::print_list(self.format, &views)
    }
}

/// The page size of a listing of at most `limit` items.
pub fn page_size(limit: Option<usize>) -> i32 {
    limit.map_or(1000, |l| l.clamp(1, 1000)) as i32
}

fn read_token(g: &Global) -> CliResult<Option<String>> {
    if let Some(t) = g.token.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(t.trim().to_owned()));
    }
    let Some(path) = &g.token_file else { return Ok(None) };
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::other(format!("cannot read the token file {}: {e}", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CliError::other(format!("the token file {} is empty", path.display())));
    }
    Ok(Some(token.to_owned()))
}

/// Connects as the global options say.
pub async fn connect(g: &Global) -> CliResult<RegistryClient> {
    let mut b =
        RegistryClient::builder(g.endpoint.clone()).user_agent(format!("registryctl/{}", env!("CARGO_PKG_VERSION")));
    if let Some(token) = read_token(g)? {
        b = b.token(token);
    }
    if let Some(ca) = &g.ca_cert {
        let pem = std::fs::read(ca).map_err(|e| CliError::other(format!("cannot read {}: {e}", ca.display())))?;
        b = b.ca_certificate(pem);
    }
    b.connect().await.context(format!("connecting to {}", g.endpoint))
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> CliResult {
    let Cli { global, command } = cli;
    let ctx = Ctx {
        client: connect(&global).await?,
        format: global.output,
        quiet: global.quiet,
    };
    match command {
        Command::Goals(c) => goals::run(&ctx, c).await,
        Command::Partners(c) => partners::run(&ctx, c).await,
        Command::Agreements(c) => resource::run::<Agreements, _>(&ctx, c).await,
        Command::Risks(c) => resource::run::<Risks, _>(&ctx, c).await,
        Command::ProductSets(c) => resource::run::<ProductSets, _>(&ctx, c).await,
        Command::Concentration(a) => partners::concentration(&ctx, a).await,
        Command::History(a) => feed::history(&ctx, a).await,
        Command::Watch(a) => feed::watch(&ctx, a).await,
        Command::Tokens(c) => tokens::run(&ctx, c).await,
        Command::Health(a) => feed::health(&ctx, a).await,
        Command::Trade(c) => trade::trade(&ctx, c).await,
        Command::Dependencies(a) => trade::dependencies(&ctx, a).await,
        Command::Dominated(a) => trade::dominated(&ctx, a).await,
        Command::Import(a) => data::import(&ctx, a).await,
        Command::Export(a) => data::export(&ctx, a).await,
        Command::Report(a) => crate::report::run(&ctx, a).await,
        Command::Completions { .. } => Ok(()),
    }
}
