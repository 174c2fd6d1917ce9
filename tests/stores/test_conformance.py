"""One conformance suite every store backend passes: state in SQLite and PostgreSQL,
artifacts in a local directory and in S3 (SeaweedFS), each against a real server."""

import io
import json
import time

import pytest
from PIL import Image

from mmagent.errors import (
    CallAnsweredError,
    InputNotFoundError,
    RunFinishedError,
    UnknownCallError,
    UnknownRunError,
)
from mmagent.execution import Executor
from mmagent.plan import Plan
from mmagent.runs import RunQueue
from mmagent.stores import (
    make_artifact_store,
    make_owners,
    make_result_cache,
    make_run_store,
    state_database,
)
from tests.fakes import fake_registry


def _png(w=7, h=5, color=(10, 20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


class TestStateStore:
    """Runs, checkpoints, cache, ownership and runs-API records on every state backend."""

    def test_run_records(self, state_config):
        runs = make_run_store(state_config)
        runs.create("r1", {"tasks": []}, {"image0": {"id": "x"}}, {"prompt": "hi"})
        rec = runs.get("r1")
        assert (rec.status, rec.segment, rec.meta) == ("running", 0, {"prompt": "hi"})
        assert rec.inputs == {"image0": {"id": "x"}}
        with pytest.raises(Exception, match="(?i)unique|duplicate"):  # ids are unique
            runs.create("r1", {"tasks": []}, {}, {})
        runs.put_result("r1", "t1", True, {"text": "a"})
        runs.put_result("r1", "t1", True, {"text": "b"})  # a retry replaces
        runs.put_result("r1", "t2", False, {"code": "tool.failed", "message": "x"})
        assert runs.results("r1") == ({"t1": {"text": "b"}},
                                      {"t2": {"code": "tool.failed", "message": "x"}})
        runs.add_request("r1", 0, ["t3"])
        runs.add_request("r1", 0, ["t4"])
        assert runs.requests("r1", 0) == [["t3"], ["t4"]]
        runs.decide("r1", {"t3": True})
        runs.decide("r1", {"t3": False, "t4": True})
        assert runs.decisions("r1") == {"t3": False, "t4": True}
        assert runs.next_segment("r1") == 1
        runs.create("r2", {"tasks": []}, {}, {})
        assert not runs.cancel_paused("r2")  # running: the executor's cancel is for that
        runs.set_status("r2", "awaiting_approval")
        assert runs.cancel_paused("r2") and runs.get("r2").status == "cancelled"
        assert not runs.cancel_paused("r2")
        runs.set_status("r1", "completed")
        with pytest.raises(RunFinishedError):
            runs.resumable("r1")
        with pytest.raises(UnknownRunError):
            runs.get("nope")
        assert sorted(r for r, _s, _u in runs.list()) == ["r1", "r2"]

    def test_client_calls(self, state_config):
        """A call of the client's function: recorded once per task, answered once, by id."""
        runs = make_run_store(state_config)
        runs.create("r1", {"tasks": []}, {})
        call = runs.open_call("r1", "t1", "get_weather", {"city": "Paris"})
        assert call.call_id.startswith("call_") and not call.answered
        assert runs.open_call("r1", "t1", "get_weather", {"city": "Paris"}) == call
        other = runs.open_call("r1", "t2", "get_weather", {"city": "Oslo"})
        assert [c.call_id for c in runs.pending_calls("r1")] == [call.call_id, other.call_id]
        # a second store on the same database (another replica) sees it and answers it
        again = make_run_store(state_config)
        assert again.client_call(call.call_id).arguments == {"city": "Paris"}
        answered = again.answer_call(call.call_id, "sunny")
        assert (answered.output, answered.answered) == ("sunny", True)
        with pytest.raises(CallAnsweredError):
            runs.answer_call(call.call_id, "rain")
        assert runs.client_call(call.call_id).output == "sunny"  # the first answer stays
        assert runs.open_call("r1", "t1", "get_weather", {}).output == "sunny"
        assert [c.call_id for c in runs.pending_calls("r1")] == [other.call_id]
        with pytest.raises(UnknownCallError):
            runs.answer_call("call_nope", "x")
        with pytest.raises(UnknownCallError):
            runs.client_call("call_nope")

    def test_a_paused_run_resumes_from_a_second_store_instance(self, state_config, store):
        """LangGraph's checkpoints and our records survive into another process's store."""
        plan = Plan.model_validate({"tasks": [
            {"id": "t1", "tool": "fake_sleep", "args": {"label": "hi", "seconds": 0}},
            {"id": "t2", "tool": "fake_speak", "args": {"text": "$t1.text"}}]})
        from mmagent.execution import ApprovalPolicy

        first = Executor(fake_registry(), store, runs=make_run_store(state_config),
                         approval=ApprovalPolicy(tools=("fake_speak",)))
        paused = first.run(plan, {}, run_id="run-x")
        assert paused.status == "awaiting_approval" and set(paused.outputs) == {"t1"}
        second = Executor(fake_registry(), store, runs=make_run_store(state_config),
                          approval=ApprovalPolicy(tools=("fake_speak",)))
        done = second.resume("run-x", decision=True)
        assert done.status == "completed" and set(done.outputs) == {"t1", "t2"}

    def test_result_cache(self, state_config):
        cache = make_result_cache(state_config)
        key = cache.key("fake_sleep", "1", None, {"label": "hi"})
        assert cache.get(key) is None
        cache.put(key, {"text": "HI"}, "fake_sleep")
        cache.put(key, {"text": "HI!"}, "fake_sleep")
        assert cache.get(key) == {"text": "HI!"}
        assert make_result_cache(state_config).get(key) == {"text": "HI!"}  # shared

    def test_owners(self, state_config, tmp_path):
        (tmp_path / "owners.jsonl").write_text(json.dumps({"artifact": "d" * 64,
                                                           "owner": "c"}) + "\n")
        owners = make_owners(state_config, tmp_path)
        assert owners.owns("c", "d" * 64)  # taken over from an earlier version's file
        owners.add("a", "f" * 64)
        owners.add("a", "f" * 64)
        assert owners.owns("a", "f" * 64) and not owners.owns("b", "f" * 64)
        assert not owners.owns("a", "e" * 64)
        assert make_owners(state_config).owns("a", "f" * 64)  # another instance sees it

    def test_run_queue(self, state_config):
        q = RunQueue(state_database(state_config))
        q.create("q1", "alice", {"prompt": "one"})
        q.create("q2", "alice", {"prompt": "two"})
        q.create("q3", "bob", {"prompt": "three"})
        assert sorted(q.owners_waiting()) == ["alice", "bob"]
        assert q.claim("alice", limit=1).id == "q1"
        assert q.claim("alice", limit=1) is None  # alice has one running
        assert q.claim("bob", limit=1).id == "q3"
        with pytest.raises(UnknownRunError):
            q.get("q1", owner="bob")
        assert [r.id for r in q.list("alice")] == ["q2", "q1"]
        assert q.append_event("q1", json.dumps({"n": 1})) == 1
        assert q.append_event("q1", json.dumps({"n": 2})) == 2
        assert q.events("q1", after=1) == [(2, '{"n": 2}')]
        assert not q.transition("q1", ("queued",), "cancelled")  # it is running
        assert q.transition("q1", ("running",), "completed", result={"answer": "ok"})
        assert q.get("q1").result == {"answer": "ok"}
        assert q.claim("alice", limit=1).id == "q2"  # room again
        q.request_cancel("q2")
        assert q.cancel_requested("q2") and not q.cancel_requested("q3")
        q.db.execute("UPDATE mmagent_api_runs SET updated = updated - 100 WHERE id = 'q3'")
        q.heartbeat("q2")
        assert q.requeue_stale(lease_s=50) == ["q3"]  # q3's instance went silent; q2's did not
        assert q.get("q3").status == "queued" and q.get("q2").status == "running"

    def test_replicas_moving_one_run_at_once_move_it_once(self, state_config):
        """Six replicas finish, cancel or requeue the same running run at the same moment:
        exactly one of them moves it, and the run ends as that one said."""
        import threading
        from concurrent.futures import ThreadPoolExecutor

        from mmagent.stores import open_database

        st = state_config.stores.state
        target = st.dsn if st.backend == "postgres" else state_config.cache_dir / "runs.sqlite"
        queues = [RunQueue(open_database(target)) for _ in range(6)]
        moves = ["completed", "cancelled", "failed"] * 2
        for n in range(8):
            run_id = f"race{n}"
            queues[0].create(run_id, "alice", {"prompt": "p"})
            assert queues[0].claim("alice", limit=1).id == run_id
            start = threading.Barrier(len(queues))

            def move(i, run_id=run_id, start=start):
                start.wait()
                if i == 5:  # a replica that believes the run's instance died
                    return "queued" if queues[i]._requeue(run_id, time.time() + 60) else None
                done = queues[i].transition(run_id, ("running",), moves[i],
                                            result={"by": i})
                return moves[i] if done else None

            with ThreadPoolExecutor(len(queues)) as pool:
                won = [m for m in pool.map(move, range(len(queues))) if m]
            assert len(won) == 1, f"run {run_id} was moved by {won}"
            assert queues[1].get(run_id).status == won[0]
            if won[0] == "queued":
                queues[0].transition(run_id, ("queued",), "cancelled")
        for q in queues:
            q.db.close()


    def test_instances_starting_at_once_create_the_schema_once(self, state_config):
        """Replicas start together: concurrent CREATE IF NOT EXISTS must not fail."""
        from concurrent.futures import ThreadPoolExecutor

        from mmagent.stores import open_database
        from mmagent.stores._owners import DatabaseOwners

        st = state_config.stores.state
        target = st.dsn if st.backend == "postgres" else state_config.cache_dir / "runs.sqlite"

        def start_one(_):
            dbs = [open_database(target), open_database(target)]
            RunQueue(dbs[0])
            DatabaseOwners(dbs[1])
            make_result_cache(state_config)
            for db in dbs:
                db.close()
            runs = make_run_store(state_config)
            ok = runs.saver is not None
            getattr(runs, "close", lambda: None)()
            return ok

        with ThreadPoolExecutor(6) as pool:
            assert all(pool.map(start_one, range(6)))


class TestArtifactStore:
    """Content addressing, validation and cross-machine reads on every artifact backend."""

    def test_put_get_and_content_addressing(self, artifact_configs):
        store = make_artifact_store(artifact_configs[0])
        ref = store.put_bytes(_png(), "image")
        again = store.put_bytes(_png(), "image")
        assert again.id == ref.id and (ref.width, ref.height) == (7, 5)
        assert store.get(ref.id) == ref
        assert store.read_bytes(ref) == _png()
        assert store.load_image(ref).size == (7, 5)
        with pytest.raises(InputNotFoundError):
            store.get("0" * 64)
        with pytest.raises(InputNotFoundError):
            store.get("../etc/passwd")

    def test_another_machine_reads_what_one_stored(self, artifact_configs):
        """The second store has its own local directory (S3) and still gets a local file."""
        one, two = (make_artifact_store(c) for c in artifact_configs)
        ref = one.put_bytes(_png(9, 4), "image")
        got = two.get(ref.id)
        assert got == ref
        path = two.path(got)
        assert path.is_file() and path.read_bytes() == _png(9, 4)
        assert path.is_relative_to(two.root)  # materialised into its own cache
