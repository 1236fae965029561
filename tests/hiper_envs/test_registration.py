"""Registration of the HiPER ids: on import, idempotent, reachable from a fresh interpreter, light import."""

import subprocess
import sys
import warnings

import gymnasium as gym

import hiper_envs


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_ids_registered_on_import():
    for env_id in hiper_envs.ENV_IDS:
        assert env_id in gym.registry


def test_register_envs_is_idempotent():
    specs = {env_id: gym.spec(env_id) for env_id in hiper_envs.ENV_IDS}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Gymnasium warns when an id is overridden
        hiper_envs.register_envs()
        hiper_envs.register_envs()
    assert {env_id: gym.spec(env_id) for env_id in hiper_envs.ENV_IDS} == specs


def test_module_prefixed_id_from_a_fresh_interpreter():
    code = (
        "import gymnasium as gym\n"
        "env = gym.make('hiper_envs:HiPER/ALFWorld-v0', split='valid_seen', num_games=2)\n"
        "obs, info = env.reset(seed=0)\n"
        "print(type(env.unwrapped).__name__, obs.startswith('-= Welcome to TextWorld, ALFRED! =-'))\n"
        "env.close()\n"
    )
    assert _run(code) == ["ALFWorldEnv", "True"]


def test_plain_id_needs_the_import():
    # Gymnasium >= 1.0 loads no entry-point plugins: without `import hiper_envs` the id is unknown.
    code = (
        "import gymnasium as gym\n"
        "try:\n    gym.spec('HiPER/ALFWorld-v0'); print('found')\n"
        "except gym.error.Error:\n    print('missing')\n"
        "import hiper_envs\nprint(gym.spec('HiPER/ALFWorld-v0').id)\n"
    )
    assert _run(code) == ["missing", "HiPER/ALFWorld-v0"]


def test_importing_hiper_envs_does_not_load_the_engine():
    code = "import sys, hiper_envs; print('textworld' in sys.modules, 'fast_downward' in sys.modules)"
    assert _run(code) == ["False", "False"]
