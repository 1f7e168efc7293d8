//! Rust SDK for the Policy & Partner Registry of the Ministry of Trade, Industry and Energy.
//!
//! [`RegistryClient`] is cheap to clone (it shares one HTTP/2 channel), returns a typed
//! [`Error`], and re-exports every generated type in [`pb`] so this is the only crate a
//! ministry system needs.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use registry_client::{RegistryClient, pb};
//!
//! # async fn run() -> Result<(), registry_client::Error> {
//! let client = RegistryClient::connect("http://127.0.0.1:50051").await?;
//! let goal = client
//!     .create_policy_goal(pb::CreatePolicyGoalRequest {
//!         policy_goal_id: "manufacturing-ax".into(),
//!         policy_goal: Some(pb::PolicyGoal {
//!             title: "Spread Manufacturing AX (AI Transformation)".into(),
//!             pillar: pb::Pillar::IndustrialResurgence.into(),
//!             ..Default::default()
//!         }),
//!         ..Default::default()
//!     })
//!     .await?;
//! println!("created {} (etag {})", goal.name, goal.etag);
//!
//! // Walk every page.
//! let all: Vec<pb::PolicyGoal> = client
//!     .list_policy_goals(pb::ListPolicyGoalsRequest::default())
//!     .try_collect()
//!     .await?;
//! println!("{} goals", all.len());
//! # Ok(()) }
//! ```

mod error;
mod watch;

use std::time::Duration;

use futures::{Stream, TryStreamExt, stream};
use registry_proto::v1::{
    change_feed_service_client::ChangeFeedServiceClient, policy_goal_service_client::PolicyGoalServiceClient,
};
use tonic::transport::{Channel, Endpoint};

pub use error::{Error, FieldViolation};
pub use registry_proto::prost_types;
/// Generated protobuf types of `motie.registry.v1`.
pub use registry_proto::v1 as pb;
pub use watch::{WatchEvent, WatchOptions};

/// Result of a client call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Configures a [`RegistryClient`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    endpoint: String,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    user_agent: String,
    lazy: bool,
}

impl ClientBuilder {
    /// Per-call timeout (default: none).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Connection timeout (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `user-agent` sent with every call.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Connect on first use instead of now.
    pub fn lazy(mut self, lazy: bool) -> Self {
        self.lazy = lazy;
        self
    }

    /// Builds the client.
    pub async fn connect(self) -> Result<RegistryClient> {
        let mut ep = Endpoint::from_shared(self.endpoint.clone())
            .map_err(|e| Error::Transport(format!("invalid endpoint {:?}: {e}", self.endpoint)))?
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent)
            .map_err(|e| Error::Transport(format!("invalid user agent: {e}")))?
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        if let Some(t) = self.timeout {
            ep = ep.timeout(t);
        }
        let channel = if self.lazy {
            ep.connect_lazy()
        } else {
            ep.connect().await?
        };
        Ok(RegistryClient::from_channel(channel))
    }
}

/// A client of the registry. Clone it freely; clones share the connection.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    goals: PolicyGoalServiceClient<Channel>,
    changes: ChangeFeedServiceClient<Channel>,
}

fn page<T>(r: std::result::Result<tonic::Response<T>, tonic::Status>) -> Result<T> {
    r.map(tonic::Response::into_inner).map_err(Error::from)
}

impl RegistryClient {
    /// Connects to `endpoint`, e.g. `http://127.0.0.1:50051`.
    pub async fn connect(endpoint: impl Into<String>) -> Result<Self> {
        Self::builder(endpoint).connect().await
    }

    /// A builder for timeouts, user agent and lazy connection.
    pub fn builder(endpoint: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            endpoint: endpoint.into(),
            timeout: None,
            connect_timeout: Duration::from_secs(5),
            user_agent: format!("registry-client/{}", env!("CARGO_PKG_VERSION")),
            lazy: false,
        }
    }

    /// Wraps an existing channel.
    pub fn from_channel(channel: Channel) -> Self {
        RegistryClient {
            goals: PolicyGoalServiceClient::new(channel.clone()).max_decoding_message_size(64 * 1024 * 1024),
            changes: ChangeFeedServiceClient::new(channel).max_decoding_message_size(64 * 1024 * 1024),
        }
    }

    /// Creates a goal. Set `request_id` to make retries safe.
    pub async fn create_policy_goal(&self, req: pb::CreatePolicyGoalRequest) -> Result<pb::PolicyGoal> {
        page(self.goals.clone().create_policy_goal(req).await)
    }

    /// Gets a goal by name (`policyGoals/{goal}`).
    pub async fn get_policy_goal(&self, name: impl Into<String>) -> Result<pb::PolicyGoal> {
        page(
            self.goals
                .clone()
                .get_policy_goal(pb::GetPolicyGoalRequest {
                    name: name.into(),
                    read_time: None,
                })
                .await,
        )
    }

    /// Gets one page of goals.
    pub async fn list_policy_goals_page(&self, req: pb::ListPolicyGoalsRequest) -> Result<pb::ListPolicyGoalsResponse> {
        page(self.goals.clone().list_policy_goals(req).await)
    }

    /// Streams every goal matching `req`, fetching pages as it goes.
    pub fn list_policy_goals(
        &self,
        req: pb::ListPolicyGoalsRequest,
    ) -> impl Stream<Item = Result<pb::PolicyGoal>> + Send + 'static {
        let client = self.clone();
        stream::try_unfold(Some(req), move |next| {
            let client = client.clone();
            async move {
                let Some(req) = next else { return Ok::<_, Error>(None) };
                let resp = client.list_policy_goals_page(req.clone()).await?;
                let following = (!resp.next_page_token.is_empty()).then(|| pb::ListPolicyGoalsRequest {
                    page_token: resp.next_page_token.clone(),
                    ..req
                });
                Ok(Some((stream::iter(resp.policy_goals.into_iter().map(Ok)), following)))
            }
        })
        .try_flatten()
    }

    /// Gets up to 1000 goals by name, in order; NOT_FOUND if any is missing.
    pub async fn batch_get_policy_goals<I, S>(&self, names: I) -> Result<Vec<pb::PolicyGoal>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let req = pb::BatchGetPolicyGoalsRequest {
            names: names.into_iter().map(Into::into).collect(),
        };
        page(self.goals.clone().batch_get_policy_goals(req).await).map(|r| r.policy_goals)
    }

    /// Updates a goal (set `policy_goal.etag` for optimistic concurrency).
    pub async fn update_policy_goal(&self, req: pb::UpdatePolicyGoalRequest) -> Result<pb::PolicyGoal> {
        page(self.goals.clone().update_policy_goal(req).await)
    }

    /// Soft-deletes a goal.
    pub async fn delete_policy_goal(&self, req: pb::DeletePolicyGoalRequest) -> Result<pb::PolicyGoal> {
        page(self.goals.clone().delete_policy_goal(req).await)
    }

    /// Restores a soft-deleted goal.
    pub async fn undelete_policy_goal(&self, req: pb::UndeletePolicyGoalRequest) -> Result<pb::PolicyGoal> {
        page(self.goals.clone().undelete_policy_goal(req).await)
    }

    /// Moves a goal through its lifecycle.
    pub async fn change_policy_goal_state(&self, req: pb::ChangePolicyGoalStateRequest) -> Result<pb::PolicyGoal> {
        page(self.goals.clone().change_policy_goal_state(req).await)
    }

    /// Gets a goal as it was at `read_time` (from the change history).
    pub async fn get_policy_goal_at(
        &self,
        name: impl Into<String>,
        read_time: prost_types::Timestamp,
    ) -> Result<pb::PolicyGoal> {
        page(
            self.goals
                .clone()
                .get_policy_goal(pb::GetPolicyGoalRequest {
                    name: name.into(),
                    read_time: Some(read_time),
                })
                .await,
        )
    }

    /// Gets one page of the change history.
    pub async fn list_changes_page(&self, req: pb::ListChangesRequest) -> Result<pb::ListChangesResponse> {
        page(self.changes.clone().list_changes(req).await)
    }

    /// Streams the whole change history matching `req`, page by page.
    pub fn list_changes(&self, req: pb::ListChangesRequest) -> impl Stream<Item = Result<pb::Change>> + Send + 'static {
        let client = self.clone();
        stream::try_unfold(Some(req), move |next| {
            let client = client.clone();
            async move {
                let Some(req) = next else { return Ok::<_, Error>(None) };
                let resp = client.list_changes_page(req.clone()).await?;
                let following = (!resp.next_page_token.is_empty()).then(|| pb::ListChangesRequest {
                    page_token: resp.next_page_token.clone(),
                    ..req
                });
                Ok(Some((stream::iter(resp.changes.into_iter().map(Ok)), following)))
            }
        })
        .try_flatten()
    }

    /// Opens one raw WatchChanges stream (no reconnection); see [`RegistryClient::watch_changes`].
    pub async fn watch_changes_once(
        &self,
        req: pb::WatchChangesRequest,
    ) -> Result<tonic::Streaming<pb::WatchChangesResponse>> {
        page(self.changes.clone().watch_changes(req).await)
    }

    /// Watches the change feed. The stream reconnects on UNAVAILABLE, RESOURCE_EXHAUSTED and
    /// transport errors, with exponential backoff and jitter, resuming after the last
    /// delivered sequence, so it yields every matching change exactly once and in order.
    /// It ends with an error only for a non-retryable status (e.g. OUT_OF_RANGE when the
    /// resume point has been compacted away).
    pub fn watch_changes(
        &self,
        req: pb::WatchChangesRequest,
        opts: WatchOptions,
    ) -> impl Stream<Item = Result<WatchEvent>> + Send + 'static {
        watch::watch(self.clone(), req, opts)
    }
}
