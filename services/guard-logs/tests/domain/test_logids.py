from aos_guard_logs.domain.logids import log_id_for, run_id_candidates


def test_log_id_drops_the_run_prefix() -> None:
    assert log_id_for("run_0123456789abcdef") == "log_0123456789abcdef"


def test_log_id_of_a_run_id_without_prefix_keeps_it_whole() -> None:
    assert log_id_for("nightly-42") == "log_nightly-42"


def test_log_id_maps_back_to_the_prefixed_run_id_first() -> None:
    assert run_id_candidates("log_0123456789abcdef") == [
        "run_0123456789abcdef",
        "0123456789abcdef",
    ]


def test_every_run_id_round_trips_through_its_log_id() -> None:
    for run_id in ("run_0123456789abcdef", "nightly-42", "trace_abc"):
        assert run_id in run_id_candidates(log_id_for(run_id))


def test_a_run_id_given_as_log_id_is_taken_as_is() -> None:
    assert run_id_candidates("run_abc") == ["run_abc"]
