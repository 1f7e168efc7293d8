"""A Python client of the Policy & Partner Registry.

Lists the policy goals, updates one with its etag (optimistic concurrency: a stale etag is
refused with ABORTED), and follows the change feed until that update arrives.

The stubs are generated from proto/ with grpcio-tools (see run.sh and docs/clients.md) into a
directory on PYTHONPATH; they are not committed.

    python registry_example.py --endpoint 127.0.0.1:50051 --token rgy_...
"""

import argparse
import os
import sys
import uuid

import grpc
from google.protobuf import field_mask_pb2

from motie.registry.v1 import (
    change_feed_service_pb2,
    change_feed_service_pb2_grpc,
    common_pb2,
    policy_goal_pb2,
    policy_goal_service_pb2,
    policy_goal_service_pb2_grpc,
)


def new_traceparent():
    """A W3C traceparent, so the registry logs this call under our trace id."""
    return "00-%s-%s-01" % (uuid.uuid4().hex, uuid.uuid4().hex[:16])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=os.environ.get("REGISTRY_ENDPOINT", "127.0.0.1:50051"))
    parser.add_argument("--token", default=os.environ.get("REGISTRY_TOKEN"))
    args = parser.parse_args()
    if not args.token:
        sys.exit("a token is needed: --token or REGISTRY_TOKEN")
    endpoint = args.endpoint.removeprefix("http://")

    trace = new_traceparent()
    metadata = [("authorization", "Bearer " + args.token), ("traceparent", trace)]
    channel = grpc.insecure_channel(endpoint)
    goals = policy_goal_service_pb2_grpc.PolicyGoalServiceStub(channel)
    changes = change_feed_service_pb2_grpc.ChangeFeedServiceStub(channel)
    print("trace id of this run:", trace.split("-")[1])

    # 1. List every goal, page by page.
    listed, token = [], ""
    while True:
        page = goals.ListPolicyGoals(
            policy_goal_service_pb2.ListPolicyGoalsRequest(page_size=50, page_token=token, order_by="name"),
            metadata=metadata,
        )
        listed.extend(page.policy_goals)
        token = page.next_page_token
        if not token:
            break
    print("%d goals" % len(listed))
    for g in listed[:10]:
        print("  %-40s %s" % (g.name, g.title + (" / " + g.title_ko if g.title_ko else "")))

    if not listed:
        created = goals.CreatePolicyGoal(
            policy_goal_service_pb2.CreatePolicyGoalRequest(
                policy_goal_id="python-example",
                policy_goal=policy_goal_pb2.PolicyGoal(
                    title="Python example goal", pillar=common_pb2.PILLAR_INDUSTRIAL_RESURGENCE
                ),
            ),
            metadata=metadata,
        )
        print("no goals yet; created", created.name)
        listed.append(created)
    goal = listed[0]

    # 2. Open the change feed at the current head, before changing anything.
    newest = changes.ListChanges(
        change_feed_service_pb2.ListChangesRequest(page_size=1, newest_first=True), metadata=metadata
    ).changes
    after = newest[0].sequence if newest else 0
    stream = changes.WatchChanges(
        change_feed_service_pb2.WatchChangesRequest(after_sequence=after, name_prefix=goal.name),
        metadata=metadata,
        timeout=60,
    )

    # 3. Update the goal's description, sending the etag we read.
    note = "Reviewed by the Python example (%s)" % uuid.uuid4().hex[:8]
    updated = goals.UpdatePolicyGoal(
        policy_goal_service_pb2.UpdatePolicyGoalRequest(
            policy_goal=policy_goal_pb2.PolicyGoal(name=goal.name, description=note, etag=goal.etag),
            update_mask=field_mask_pb2.FieldMask(paths=["description"]),
        ),
        metadata=metadata,
    )
    print("updated %s: etag %s -> %s, revision %d" % (updated.name, goal.etag, updated.etag, updated.revision))

    # The old etag is stale now: the registry refuses the write instead of losing one.
    try:
        goals.UpdatePolicyGoal(
            policy_goal_service_pb2.UpdatePolicyGoalRequest(
                policy_goal=policy_goal_pb2.PolicyGoal(name=goal.name, description="lost update", etag=goal.etag),
                update_mask=field_mask_pb2.FieldMask(paths=["description"]),
            ),
            metadata=metadata,
        )
        sys.exit("a stale etag was accepted")
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.ABORTED:
            raise
        print("stale etag refused:", e.code().name)

    # 4. Follow the feed until our update arrives.
    for event in stream:
        if event.WhichOneof("event") != "change":
            continue
        change = event.change
        kind = change_feed_service_pb2.Change.Kind.Name(change.kind)
        print("change #%d %s %s" % (change.sequence, kind, change.resource_name))
        if change.resource_name == goal.name and change.policy_goal.description == note:
            print("saw our update in the change feed")
            stream.cancel()
            break
    else:
        sys.exit("the change feed ended before our update arrived")


if __name__ == "__main__":
    main()
