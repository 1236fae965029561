"""GamePool: the same games and transcripts as the unpooled source, and resets that never run the translator."""

import pickle
import random
import zlib

import pytest

from hiper_envs.alfworld import engine
from hiper_envs.alfworld.env import ALFWorldEnv
from hiper_envs.alfworld.pool import GamePool
from hiper_envs.alfworld.sources import GeneratedTaskSource

SPLIT, SIZE = "valid_seen", 3


@pytest.fixture(scope="module")
def pool():
    return GamePool(SPLIT, size=SIZE, seed=0)


@pytest.fixture(autouse=True)
def fresh_engine_caches(monkeypatch):
    """No translation cached or compiled in this process: each env below translates or uses its own pool."""
    monkeypatch.setattr(engine, "_COMPILED", {})
    engine.translate.cache_clear()
    yield
    engine.translate.cache_clear()


def unpooled_transcripts(seeds, expert=False):
    """What an env without a pool plays (translating every game itself)."""
    engine._COMPILED.clear()  # the fixture's empty dict: forget what the pools handed over so far
    engine.translate.cache_clear()
    env = ALFWorldEnv(SPLIT, num_games=SIZE, expert=expert)
    out = [transcript(env, seed) for seed in seeds]
    env.close()
    engine.translate.cache_clear()
    assert not engine._COMPILED
    return out


def transcript(env, seed, steps=25):
    rng = random.Random(seed)
    obs, info = env.reset(seed=seed)
    out = [obs, info["game_id"], info["admissible_commands"]]
    for _ in range(steps):
        command = rng.choice(info["admissible_commands"])
        obs, reward, terminated, truncated, info = env.step(command)
        out += [command, obs, reward, terminated, info["admissible_commands"], info.get("expert_action")]
        if terminated or truncated:
            break
    return out


def test_pool_holds_the_sources_games(pool):
    source = GeneratedTaskSource(SPLIT, seed=0, num_games=SIZE)
    assert len(pool) == SIZE
    assert [pool[i].game_id for i in range(SIZE)] == [source[i].game_id for i in range(SIZE)]
    assert pool[-1].game_id == source[SIZE - 1].game_id


@pytest.mark.parametrize("expert", [False, True])
def test_same_seed_same_transcript_as_unpooled(pool, expert):
    expected = unpooled_transcripts(range(2), expert=expert)
    pooled = ALFWorldEnv(SPLIT, task_source=pool, expert=expert)
    assert [transcript(pooled, seed) for seed in range(2)] == expected
    assert len(engine._COMPILED) == len({t[1] for t in expected})  # the pool's translations were played
    pooled.close()


def test_pooled_reset_does_not_translate(pool, monkeypatch):
    def no_translation(*args, **kwargs):
        raise AssertionError("the translator ran at reset")

    copy = pickle.loads(pickle.dumps(pool))  # as a worker process gets it: nothing handed to the engine yet
    monkeypatch.setattr(engine.fast_downward, "pddl2sas", no_translation)
    env = ALFWorldEnv(SPLIT, task_source=copy)
    for index in range(SIZE):
        obs, info = env.reset(options={"game_index": index})
        assert obs.startswith("-= Welcome to TextWorld, ALFRED! =-") and info["admissible_commands"]
    env.close()
    engine.translate.cache_clear()
    with pytest.raises(AssertionError, match="translator"):  # the check can fail: an unpooled game translates
        ALFWorldEnv(SPLIT, num_games=SIZE + 1).reset(options={"game_index": SIZE})


def test_parallel_build_equals_serial_build(pool):
    parallel = GamePool(SPLIT, size=SIZE, seed=0, processes=2)
    assert [parallel[i] for i in range(SIZE)] == [pool[i] for i in range(SIZE)]
    # the translations made in other processes (other hash seeds) are the same SAS tasks
    for mine, theirs in zip(pool._blobs, parallel._blobs, strict=True):
        a, b = (pickle.loads(zlib.decompress(blob)) for blob in (mine, theirs))
        assert (a.sas, a.sas_replan, a.name2type) == (b.sas, b.sas_replan, b.name2type)
    expected = unpooled_transcripts([5], expert=True)
    env = ALFWorldEnv(SPLIT, task_source=parallel, expert=True)
    assert [transcript(env, seed=5)] == expected


def test_cache_dir_round_trip(pool, tmp_path):
    first = GamePool(SPLIT, size=2, seed=0, cache_dir=tmp_path)
    assert first.cache_path.exists() and first.cache_path.parent == tmp_path
    again = GamePool(SPLIT, size=2, seed=0, cache_dir=tmp_path)  # loaded: the same games and translations
    assert [again[i] for i in range(2)] == [pool[i] for i in range(2)] and again._blobs == first._blobs
    other = GamePool(SPLIT, size=2, seed=1, cache_dir=tmp_path)  # other arguments, other file
    assert other.cache_path != first.cache_path and other[0].game_id != pool[0].game_id


def test_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        GamePool(SPLIT, size=0)
    with pytest.raises(ValueError, match="processes"):
        GamePool(SPLIT, size=1, processes=0)
    with pytest.raises(ValueError, match="split"):
        GamePool("nope", size=1)


def test_compiled_games_carry_only_the_games_translation_and_still_plan(pool):
    """A pool compiles the game's SAS task only; planning the whole game translates the planner's task on demand."""
    blob = pickle.loads(zlib.decompress(pool._blobs[0]))
    assert blob.sas and blob.sas_replan == ""
    game = pool[0].game
    eng = engine.AlfredEngine()
    eng.load(game)
    eng.reset()
    plan = eng.plan()
    assert plan and len(plan) == len(game["walkthrough"])  # optimal, as the generator's walkthrough
    for command in plan:
        eng.step(command)
    assert eng.won
    eng.close()


def test_cache_key_ignores_the_modules_that_only_play(tmp_path, monkeypatch):
    from hiper_envs.alfworld import pool as pool_module

    first = GamePool(SPLIT, size=1, seed=0, cache_dir=tmp_path).cache_path
    monkeypatch.setattr(pool_module, "_PLAY_ONLY", frozenset())  # as if every module made games
    assert GamePool(SPLIT, size=1, seed=0, cache_dir=tmp_path).cache_path != first
