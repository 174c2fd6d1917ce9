"""Runs left `running` by a replica that is gone are taken over, on every state backend."""

import time

from mmagent import Agent
from mmagent.serving.run_takeover import RunTakeover
from mmagent.serving.runs import RunService
from mmagent.serving.service import ChatService
from mmagent.stores import RunQueue, state_database
from tests.serving.helpers import PlanByInputs, serving_registry


def test_a_run_without_a_live_lease_is_taken_over_and_finished(state_config):
    agent = Agent(state_config, registry=serving_registry(), planner_backend=PlanByInputs())
    db = state_database(state_config)
    runs = RunService(ChatService(agent), RunQueue(db))
    mine = RunTakeover(runs, db, "replica-b", lease_s=0.5)

    # a replica claimed a run and died: the run is `running`, no worker anywhere holds it
    runs.queue.create("run_orphan", "owner-a", {"prompt": "Please echo kiwi",
                                                "images": [], "audio": [], "video": []})
    assert runs.queue.claim("owner-a", limit=2).id == "run_orphan"
    assert mine.take_over() == []  # just claimed: its replica gets a lease's time to renew
    time.sleep(0.6)
    other = RunTakeover(runs, db, "replica-c", lease_s=0.5)
    assert mine.take_over() == ["run_orphan"] and other.take_over() == []  # taken once
    runs.join(timeout=30)
    run = runs.queue.get("run_orphan")
    assert run.status == "completed", run
    assert run.result["outputs"]["t1"]["text"] == "kiwi"


def test_a_renewed_lease_keeps_a_run_with_its_replica(state_config):
    agent = Agent(state_config, registry=serving_registry(), planner_backend=PlanByInputs())
    db = state_database(state_config)
    holder, other = (RunService(ChatService(agent), RunQueue(db)) for _ in range(2))
    holder.queue.create("run_held", "owner-a", {"prompt": "Please echo fig",
                                                "images": [], "audio": [], "video": []})
    holder.queue.claim("owner-a", limit=2)
    holder._workers["run_held"] = None  # as if its worker were running it
    time.sleep(0.6)  # past the grace a fresh claim gets
    RunTakeover(holder, db, "replica-a", lease_s=0.5).renew()
    assert RunTakeover(other, db, "replica-b", lease_s=0.5).take_over() == []
    time.sleep(0.6)  # the holder stopped renewing: it is gone
    assert RunTakeover(other, db, "replica-b", lease_s=0.5).take_over() == ["run_held"]
    other.join(timeout=30)
    assert other.queue.get("run_held").status == "completed"
