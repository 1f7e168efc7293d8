//! `motie.registry.v1.PolicyGoalService`.

use registry_proto::annotations::normalize_text;
use registry_proto::v1::{self as pb, policy_goal_service_server::PolicyGoalService};
use tonic::{Request, Response, Status};

use super::{all, check_ins, convert::enums::enum_field, resource, write_ctx};
use crate::{
    domain::{
        Collection, Id, Violations,
        enums::{GoalState, Outcome},
        goal::{GoalSpec, PolicyGoal},
        list::{self, PageTokens},
        measurement::{self, MeasurementSpec},
    },
    store::{MeasurementQuery, Store},
};

const GOALS: Collection = Collection::PolicyGoals;

service_api!(
    /// The PolicyGoalService implementation.
    GoalsApi
);

/// The state a goal is created in: UNSPECIFIED (not stated) unless the request says PLANNED,
/// ACTIVE or ON_HOLD.
fn initial_state(v: &mut Violations, g: &pb::PolicyGoal) -> GoalState {
    let state = enum_field::<GoalState>(v, "policy_goal.state", g.state, false);
    if state == Some(GoalState::Closed) {
        v.add(
            "policy_goal.state",
            "a goal cannot be created CLOSED; create it and close it with ChangePolicyGoalState",
        );
    }
    if g.outcome != 0 {
        v.add(
            "policy_goal.outcome",
            "is set when the goal is closed, with ChangePolicyGoalState",
        );
    }
    state.unwrap_or(GoalState::Unspecified)
}

/// One parsed CreatePolicyGoalRequest (without its request id and validate_only).
struct NewGoal {
    id: Id,
    spec: GoalSpec,
    state: GoalState,
}

/// Parses the goal of a CreatePolicyGoalRequest; violations are named from the request
/// (`policy_goal_id`, `policy_goal.title`, …).
fn parse_create(v: &mut Violations, r: &pb::CreatePolicyGoalRequest) -> Option<NewGoal> {
    let id = all(v, Id::parse("policy_goal_id", &r.policy_goal_id));
    let (spec, state) = match &r.policy_goal {
        Some(g) => (all(v, GoalSpec::from_proto("policy_goal", g)), initial_state(v, g)),
        None => {
            v.add("policy_goal", "is required");
            (None, GoalState::Unspecified)
        }
    };
    Some(NewGoal {
        id: id?,
        spec: spec?,
        state,
    })
}

resource::resource_service! {
    impl PolicyGoalService for GoalsApi {
        resource PolicyGoal / PolicyGoals { policy_goal / policy_goals };
        calls check_ins {
            create_check_in(CreateCheckInRequest) -> CheckIn = create;
            get_check_in(GetCheckInRequest) -> CheckIn = get;
            list_check_ins(ListCheckInsRequest) -> ListCheckInsResponse = list;
            batch_get_check_ins(BatchGetCheckInsRequest) -> BatchGetCheckInsResponse = batch_get;
        }
    }

    async fn create_policy_goal(
        &self,
        mut request: Request<pb::CreatePolicyGoalRequest>,
    ) -> Result<Response<pb::PolicyGoal>, Status> {
        normalize_text("CreatePolicyGoalRequest", request.get_mut());
        let r = request.get_ref();
        let mut v = Violations::new();
        let request_id = all(&mut v, crate::domain::request_id(&r.request_id));
        let parsed = parse_create(&mut v, r);
        let new = v.values(parsed)?;
        let ctx = write_ctx(&request, request_id.flatten(), r.validate_only);
        let goal = self.store.create_goal(&new.id, new.spec, new.state, &ctx).await?;
        Ok(Response::new(self.store.completed(goal).await?.to_proto()))
    }

    async fn batch_create_policy_goals(
        &self,
        mut request: Request<pb::BatchCreatePolicyGoalsRequest>,
    ) -> Result<Response<pb::BatchCreatePolicyGoalsResponse>, Status> {
        normalize_text("BatchCreatePolicyGoalsRequest", request.get_mut());
        use crate::domain::list::MAX_PAGE_SIZE;
        let r = request.get_ref();
        let mut v = Violations::new();
        let request_id = all(&mut v, crate::domain::request_id(&r.request_id));
        if r.requests.is_empty() || r.requests.len() > MAX_PAGE_SIZE {
            v.add("requests", format!("must have 1 to {MAX_PAGE_SIZE} creates"));
        }
        let mut goals = Vec::with_capacity(r.requests.len().min(MAX_PAGE_SIZE));
        let mut first_index = std::collections::HashMap::new();
        for (i, c) in r.requests.iter().enumerate().take(MAX_PAGE_SIZE) {
            let mut sub = Violations::new();
            if !c.request_id.is_empty() {
                sub.add("request_id", "must be empty: set the batch's request_id");
            }
            if c.validate_only {
                sub.add("validate_only", "must be false: set the batch's validate_only");
            }
            if let Some(new) = parse_create(&mut sub, c) {
                if let Some(first) = first_index.insert(new.id.clone(), i) {
                    sub.add(
                        "policy_goal_id",
                        format!("{} is also created by requests[{first}]", GOALS.name(&new.id)),
                    );
                }
                goals.push((new.id, new.spec, new.state));
            }
            for f in sub.into_vec() {
                v.add(format!("requests[{i}].{}", f.field), f.description);
            }
        }
        v.finish(|| ())?;
        let ctx = write_ctx(&request, request_id.flatten(), r.validate_only);
        let mut created = self.store.create_goals(goals, &ctx).await?;
        self.store.attach_progress(&mut created, None).await?;
        Ok(Response::new(pb::BatchCreatePolicyGoalsResponse {
            policy_goals: created.iter().map(|g| g.to_proto()).collect(),
        }))
    }

    async fn change_policy_goal_state(
        &self,
        request: Request<pb::ChangePolicyGoalStateRequest>,
    ) -> Result<Response<pb::PolicyGoal>, Status> {
        let r = request.get_ref();
        let mut v = Violations::new();
        let id = all(&mut v, GOALS.parse_name("name", &r.name));
        let state = enum_field::<GoalState>(&mut v, "state", r.state, true);
        let outcome = enum_field::<Outcome>(&mut v, "outcome", r.outcome, false);
        match (state, outcome) {
            (Some(GoalState::Closed), None) if r.outcome == 0 => v.add(
                "outcome",
                format!("is required to close a goal; one of {}", Outcome::expected()),
            ),
            (Some(s), Some(_)) if s != GoalState::Closed => v.add("outcome", "is only set when closing a goal"),
            _ => {}
        }
        let (id, state) = v.values((id, state))?;
        let ctx = write_ctx(&request, None, false);
        let goal = self.store.change_goal_state(&id, state, outcome, &r.etag, &ctx).await?;
        Ok(Response::new(self.store.completed(goal).await?.to_proto()))
    }

    async fn record_measurement(
        &self,
        mut request: Request<pb::RecordMeasurementRequest>,
    ) -> Result<Response<pb::Measurement>, Status> {
        normalize_text("RecordMeasurementRequest", request.get_mut());
        let r = request.get_ref();
        let mut v = Violations::new();
        let goal = all(&mut v, GOALS.parse_name("parent", &r.parent));
        let request_id = all(&mut v, crate::domain::request_id(&r.request_id));
        let spec = match &r.measurement {
            Some(m) => {
                let observe_time = m
                    .observe_time
                    .as_ref()
                    .and_then(|t| all(&mut v, super::from_timestamp("measurement.observe_time", t)));
                MeasurementSpec::from_proto(&mut v, "measurement", m, observe_time, time::OffsetDateTime::now_utc())
            }
            None => {
                v.add("measurement", "is required");
                None
            }
        };
        let (goal, spec) = v.values((goal, spec))?;
        let ctx = write_ctx(&request, request_id.flatten(), false);
        let m = self.store.record_measurement(&goal, spec, &ctx).await?;
        Ok(Response::new(m.to_proto()))
    }

    async fn list_measurements(
        &self,
        request: Request<pb::ListMeasurementsRequest>,
    ) -> Result<Response<pb::ListMeasurementsResponse>, Status> {
        let r = request.get_ref();
        let mut v = Violations::new();
        let goal = all(&mut v, GOALS.parse_name("parent", &r.parent));
        let page_size = all(&mut v, list::page_size(r.page_size));
        let metric = all(&mut v, measurement::metric_filter("metric", &r.metric));
        let start_time = r
            .start_time
            .as_ref()
            .and_then(|t| all(&mut v, super::from_timestamp("start_time", t)));
        let end_time = r
            .end_time
            .as_ref()
            .and_then(|t| all(&mut v, super::from_timestamp("end_time", t)));
        if let (Some(s), Some(e)) = (start_time, end_time)
            && e < s
        {
            v.add("end_time", "must not be before start_time");
        }
        let (goal, page_size, metric) = v.values((goal, page_size, metric))?;
        let ts = |t: &Option<prost_types::Timestamp>| {
            t.as_ref()
                .map(|t| format!("{}.{}", t.seconds, t.nanos))
                .unwrap_or_default()
        };
        let fingerprint = PageTokens::fingerprint(&[
            "measurements",
            &r.parent,
            &r.metric,
            &ts(&r.start_time),
            &ts(&r.end_time),
        ]);
        let page = self
            .store
            .list_measurements(&MeasurementQuery {
                goal,
                metric,
                start_time,
                end_time,
                page_size,
                page_token: r.page_token.clone(),
                fingerprint,
            })
            .await?;
        Ok(Response::new(pb::ListMeasurementsResponse {
            measurements: page.measurements.iter().map(|m| m.to_proto()).collect(),
            next_page_token: page.next_page_token,
        }))
    }
}

/// The PolicyGoalService as served: the generated server, except that GetPolicyGoal and
/// BatchGetPolicyGoals answer with the encoded goals the read cache keeps next to its values
/// ([`resource::Encoded`]), so a cached goal is converted and encoded once, not on every
/// read. Same requests, answers, metadata and message-size limits as the generated methods
/// (the calls go through the same `tonic::server::Grpc`, with the same codec for requests).
#[derive(Debug, Clone)]
pub struct GoalsServer {
    inner: pb::policy_goal_service_server::PolicyGoalServiceServer<GoalsApi>,
    store: std::sync::Arc<Store>,
    max_decoding_message_size: usize,
}

impl GoalsServer {
    pub fn new(store: Store, max_decoding_message_size: usize) -> Self {
        GoalsServer {
            inner: pb::policy_goal_service_server::PolicyGoalServiceServer::new(GoalsApi::new(store.clone()))
                .max_decoding_message_size(max_decoding_message_size),
            store: std::sync::Arc::new(store),
            max_decoding_message_size,
        }
    }
}

impl tonic::server::NamedService for GoalsServer {
    const NAME: &'static str = pb::policy_goal_service_server::SERVICE_NAME;
}

const GET_PATH: &str = "/motie.registry.v1.PolicyGoalService/GetPolicyGoal";
const BATCH_GET_PATH: &str = "/motie.registry.v1.PolicyGoalService/BatchGetPolicyGoals";
/// The field number of `BatchGetPolicyGoalsResponse.policy_goals`.
const BATCH_GET_FIELD: u32 = 1;

type BoxFuture<T, E> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send + 'static>>;

/// GetPolicyGoal, answered encoded.
struct GetGoal(std::sync::Arc<Store>);

impl tonic::server::UnaryService<pb::GetPolicyGoalRequest> for GetGoal {
    type Response = resource::Encoded;
    type Future = BoxFuture<Response<resource::Encoded>, Status>;

    fn call(&mut self, request: Request<pb::GetPolicyGoalRequest>) -> Self::Future {
        let store = self.0.clone();
        Box::pin(async move {
            let r = request.get_ref();
            let mode = super::read_mode(&request);
            let answer = resource::get_encoded::<PolicyGoal>(&store, &r.name, r.read_time.as_ref(), mode).await?;
            Ok(Response::new(answer))
        })
    }
}

/// BatchGetPolicyGoals, answered encoded.
struct BatchGetGoals(std::sync::Arc<Store>);

impl tonic::server::UnaryService<pb::BatchGetPolicyGoalsRequest> for BatchGetGoals {
    type Response = resource::Encoded;
    type Future = BoxFuture<Response<resource::Encoded>, Status>;

    fn call(&mut self, request: Request<pb::BatchGetPolicyGoalsRequest>) -> Self::Future {
        let store = self.0.clone();
        Box::pin(async move {
            let r = request.get_ref();
            let mode = super::read_mode(&request);
            let answer =
                resource::batch_get_encoded::<PolicyGoal>(&store, &r.names, r.allow_missing, mode, BATCH_GET_FIELD)
                    .await?;
            Ok(Response::new(answer))
        })
    }
}

impl<B> tower::Service<http::Request<B>> for GoalsServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        use tonic::server::Grpc;
        use tonic_prost::ProstCodec;
        let max = Some(self.max_decoding_message_size);
        match req.uri().path() {
            GET_PATH => {
                let svc = GetGoal(self.store.clone());
                Box::pin(async move {
                    let codec = ProstCodec::<resource::Encoded, pb::GetPolicyGoalRequest>::default();
                    let mut grpc = Grpc::new(codec).apply_max_message_size_config(max, None);
                    Ok(grpc.unary(svc, req).await)
                })
            }
            BATCH_GET_PATH => {
                let svc = BatchGetGoals(self.store.clone());
                Box::pin(async move {
                    let codec = ProstCodec::<resource::Encoded, pb::BatchGetPolicyGoalsRequest>::default();
                    let mut grpc = Grpc::new(codec).apply_max_message_size_config(max, None);
                    Ok(grpc.unary(svc, req).await)
                })
            }
            _ => self.inner.call(req),
        }
    }
}
