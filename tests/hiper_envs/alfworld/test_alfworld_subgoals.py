"""ALFWorld subgoals: canonical forms, lenient reading of free text, verification from facts, candidates."""

import pytest
from textworld.logic import Proposition, Variable

from hiper_envs.alfworld.candidates import canonical_subgoal, primitive_candidates, subgoal_candidates
from hiper_envs.alfworld.env import ALFWorldEnv
from hiper_envs.alfworld.expert import segment_plan
from hiper_envs.alfworld.spec import Subtask
from hiper_envs.alfworld.subgoals import World, normalize_text, parse_subgoal, subtask_holds

# A small kitchen + desk, written as the engine reports it (lower-case predicates and types).
NAMES = {
    "apple_a": "apple 1",
    "apple_b": "apple 2",
    "book_a": "book 1",
    "desklamp_a": "desklamp 1",
    "countertop_a": "countertop 1",
    "diningtable_a": "diningtable 1",
    "fridge_a": "fridge 1",
    "microwave_a": "microwave 1",
    "sinkbasin_a": "sinkbasin 1",
    "desk_a": "desk 1",
}
LOCATIONS = {
    r: f"loc_{r}"
    for r in NAMES
    if NAMES[r].split()[0] in {"countertop", "diningtable", "fridge", "microwave", "sinkbasin", "desk"}
}


def subtask(task_type, goal, obj, parent="", toggle=""):
    """A subtask with ALFRED's targets (type names, "" when unused)."""
    targets = {"object_target": obj, "parent_target": parent, "toggle_target": toggle, "mrecep_target": ""}
    return Subtask(task_type, goal, targets)


def make_world(location="loc_start", held=(), inside=None, flags=()):
    """``inside``: object -> receptacle; ``flags``: (predicate, entity) pairs such as ("isclean", "apple_a")."""
    inside = {"apple_a": "countertop_a", "apple_b": "fridge_a", "book_a": "diningtable_a", "desklamp_a": "desk_a"} | (
        inside or {}
    )
    facts = [("atlocation", "agent1", location)]
    facts += [("holds", "agent1", o) for o in held]
    facts += [("inreceptacle", o, r) for o, r in inside.items() if o not in held]
    facts += [("objectatlocation", o, LOCATIONS[r]) for o, r in inside.items() if o not in held]
    facts += [("receptacleatlocation", r, loc) for r, loc in LOCATIONS.items()]
    for entity, name in NAMES.items():
        kind = name.split()[0] + "type"
        facts.append(("receptacletype" if entity in LOCATIONS else "objecttype", entity, kind))
    facts += [("openable", "fridge_a"), ("openable", "microwave_a"), ("toggleable", "desklamp_a")]
    facts += [("pickupable", o) for o in ("apple_a", "apple_b", "book_a")]
    facts += [(p, o) for o in ("apple_a", "apple_b") for p in ("cleanable", "heatable", "coolable")]
    facts += [
        ("cancontain", f"{r}type", f"{o}type")
        for r in ("countertop", "fridge", "diningtable", "desk")
        for o in ("apple", "book")
    ]
    facts += list(flags)
    props = [Proposition(f[0], [Variable(a, "t") for a in f[1:]]) for f in facts]
    return World.from_facts(props, NAMES)


@pytest.mark.parametrize(
    "command, canonical",
    [
        ("go to countertop 1", "go to countertop 1"),
        ("take apple 1 from countertop 1", "take apple"),
        ("take soapbottle 12 from cabinet 10", "take soapbottle"),
        ("move apple 1 to fridge 1", "put apple 1 in/on fridge"),
        ("heat apple 1 with microwave 1", "heat apple 1 with microwave"),
        ("clean apple 1 with sinkbasin 2", "clean apple 1 with sinkbasin"),
        ("use desklamp 1", "use desklamp"),
        ("open fridge 1", "open fridge 1"),
        ("look", None),
        ("inventory", None),
        ("examine apple 1", None),
        ("", None),
    ],
)
def test_canonical_subgoal(command, canonical):
    assert canonical_subgoal(command) == canonical


def test_segment_plan_groups_moves_with_their_milestone():
    plan = [
        "go to countertop 1",
        "take apple 1 from countertop 1",
        "go to microwave 1",
        "heat apple 1 with microwave 1",
        "go to fridge 1",
        "open fridge 1",
        "move apple 1 to fridge 1",
        "go to desk 1",
    ]
    assert segment_plan(plan) == [
        ("take apple", True),
        ("take apple", False),
        ("heat apple 1 with microwave", True),
        ("heat apple 1 with microwave", False),
        ("put apple 1 in/on fridge", True),
        ("put apple 1 in/on fridge", False),
        ("put apple 1 in/on fridge", False),
        ("go to desk 1", True),
    ]
    assert segment_plan([]) == []


def test_normalize_text():
    assert normalize_text("  Put the Apple 1 IN/ON the Fridge 1! ") == "put the apple 1 in/on the fridge 1"


@pytest.mark.parametrize(
    "text",
    [
        "go to countertop 1",
        "Navigate to the countertop 1.",
        "walk to counter top 1",
        "head to countertop",
        "go to the counter",
        "move to countertop 1",
        "go to countertp 1",
    ],
)
def test_go_to_synonyms_and_fuzzy_names(text):
    world = make_world()
    subgoal = parse_subgoal(text, world)
    assert subgoal is not None and subgoal.kind == "go" and subgoal.objects == {"countertop_a"}
    assert not subgoal.holds(world)
    assert subgoal.holds(make_world(location="loc_countertop_a"))


def test_take_with_and_without_number():
    world = make_world(held=["apple_b"])
    assert parse_subgoal("take apple 1", world).holds(world) is False
    for text in ("take an apple", "pick up the apples", "grab apple", "Take apple 2 from fridge 1"):
        subgoal = parse_subgoal(text, world)
        assert subgoal.kind == "take" and subgoal.holds(world), text


@pytest.mark.parametrize(
    "text, flag",
    [
        ("clean apple 1 with sinkbasin 1", "isclean"),
        ("wash the apple 1 in the sink", "isclean"),
        ("heat apple 1 with microwave 1", "ishot"),
        ("microwave the apple 1", "ishot"),
        ("warm up apple 1", "ishot"),
        ("cool apple 1 with fridge 1", "iscool"),
        ("chill apple 1", "iscool"),
        ("refrigerate the apple 1", "iscool"),
    ],
)
def test_appliance_subgoals(text, flag):
    subgoal = parse_subgoal(text, make_world())
    assert subgoal is not None and subgoal.objects == {"apple_a"}
    assert not subgoal.holds(make_world())
    assert subgoal.holds(make_world(flags=[(flag, "apple_a")]))


def test_put_forms():
    placed = make_world(inside={"apple_a": "fridge_a"})
    for text in (
        "put apple 1 in/on fridge 1",
        "place the apple 1 in the fridge",
        "move apple 1 to fridge 1",
        "put an apple into fridge",
        "Put apple on fridge 1.",
    ):
        subgoal = parse_subgoal(text, placed)
        assert subgoal.kind == "put" and subgoal.holds(placed), text
        assert not subgoal.holds(make_world()) or "apple 1" not in text  # apple 2 is already in the fridge
    assert not parse_subgoal("put apple 1 in fridge", make_world()).holds(make_world())


def test_task_like_sentences():
    hot_in_fridge = make_world(inside={"apple_a": "fridge_a"}, flags=[("ishot", "apple_a")])
    for text in ("put a hot apple in fridge", "heat some apple and put it in fridge"):
        subgoal = parse_subgoal(text, hot_in_fridge)
        assert subgoal.modifier == "hot" and subgoal.holds(hot_in_fridge), text
        assert not subgoal.holds(make_world(inside={"apple_a": "fridge_a"})), text
    two = parse_subgoal("find two apples and put them in fridge", hot_in_fridge)
    assert two.count == 2 and two.holds(hot_in_fridge)
    assert not two.holds(make_world())


def test_use_and_look_in_light():
    at_desk = make_world(location="loc_desk_a", held=["book_a"], flags=[("istoggled", "desklamp_a")])
    assert parse_subgoal("turn on the desk lamp", at_desk).holds(at_desk)
    assert not parse_subgoal("use desklamp 1", make_world()).holds(make_world())
    switched_on_elsewhere = make_world(location="loc_fridge_a", flags=[("istoggled", "desklamp_a")])
    assert not parse_subgoal("use desklamp", switched_on_elsewhere).holds(switched_on_elsewhere)  # be by the lamp
    look = parse_subgoal("examine the book with the desklamp", at_desk)
    assert look.kind == "look" and look.holds(at_desk)
    assert not look.holds(make_world(location="loc_desk_a", flags=[("istoggled", "desklamp_a")]))


def test_open_close():
    world = make_world(flags=[("opened", "fridge_a")])
    assert parse_subgoal("open fridge 1", world).holds(world)
    assert not parse_subgoal("close the fridge", world).holds(world)
    assert parse_subgoal("shut the microwave", world).holds(world)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "dance",
        "take unicorn 1",
        "go to the moon",
        "go to fridge 1 then take apple 1",
        "examine apple 1",
        "x" * 500,
        "<subgoal>",
        "put apple 1",
    ],
)
def test_unreadable_text_is_unknown(text):
    assert parse_subgoal(text, make_world()) is None


def test_subtask_goals():
    clean = subtask("pick_clean_then_place_in_recep", "put a clean apple in fridge", "Apple", "Fridge")
    assert not subtask_holds(make_world(inside={"apple_a": "fridge_a"}), clean)
    assert subtask_holds(make_world(inside={"apple_a": "fridge_a"}, flags=[("isclean", "apple_a")]), clean)
    two = subtask("pick_two_obj_and_place", "put two apple in fridge", "Apple", "Fridge")
    assert not subtask_holds(make_world(), two)
    assert subtask_holds(make_world(inside={"apple_a": "fridge_a"}), two)
    look = subtask("look_at_obj_in_light", "look at book under the desklamp", "Book", toggle="DeskLamp")
    assert subtask_holds(make_world(location="loc_desk_a", held=["book_a"], flags=[("istoggled", "desklamp_a")]), look)
    assert not subtask_holds(
        make_world(location="loc_fridge_a", held=["book_a"], flags=[("istoggled", "desklamp_a")]), look
    )


def test_find_forms():
    world = make_world()
    for text in ("find an apple", "Look for the apples.", "search for apple", "locate some apple", "find apple 1"):
        subgoal = parse_subgoal(text, world)
        assert subgoal is not None and subgoal.kind == "find" and "apple_a" in subgoal.objects, text
        assert not subgoal.holds(world), text  # the agent is nowhere near an apple
        assert subgoal.holds(make_world(location="loc_countertop_a")), text  # apple 1 lies on the countertop
        assert subgoal.holds(make_world(held=["apple_a"])), text  # held counts as found
    closed_fridge = make_world(location="loc_fridge_a")
    two = parse_subgoal("find apple 2", closed_fridge)
    assert not two.holds(closed_fridge)  # apple 2 is in the closed fridge: not in sight
    assert two.holds(make_world(location="loc_fridge_a", flags=[("opened", "fridge_a")]))
    assert not parse_subgoal("find apple 1", closed_fridge).holds(closed_fridge)
    fridge = parse_subgoal("find the fridge", world)  # a receptacle: going there
    assert fridge.kind == "go" and fridge.holds(closed_fridge)
    assert parse_subgoal("find a unicorn", world) is None


def test_task_level_forms_without_numbers():
    world = make_world(location="loc_microwave_a", held=["apple_a"], flags=[("ishot", "apple_a")])
    for text in ("take a apple", "heat the apple with microwave", "heat apple 1 with microwave", "use desklamp"):
        assert parse_subgoal(text, world) is not None, text
    assert parse_subgoal("take a apple", world).holds(world)
    assert parse_subgoal("heat the apple with microwave", world).holds(world)
    assert not parse_subgoal("use desklamp", world).holds(world)
    bring = parse_subgoal("bring apple 1 to the fridge", make_world(inside={"apple_a": "fridge_a"}))
    assert bring.kind == "put" and bring.holds(make_world(inside={"apple_a": "fridge_a"}))
    put = parse_subgoal("put apple 1 in/on fridge", world)
    assert put.targets == {"fridge_a"} and not put.holds(world)


def test_candidates_are_task_level_verifiable_and_capped():
    heat = subtask("pick_heat_then_place_in_recep", "put a hot apple in fridge", "Apple", "Fridge")
    world = make_world()
    assert subgoal_candidates(world, [heat.goal], heat) == ["put a hot apple in fridge", "find apple", "take apple"]
    at_counter = make_world(location="loc_countertop_a")  # apple 1 in sight: nothing to find
    assert subgoal_candidates(at_counter, [heat.goal], heat) == ["put a hot apple in fridge", "take apple"]
    holding = make_world(location="loc_countertop_a", held=["apple_a"])
    candidates = subgoal_candidates(holding, [heat.goal], heat)
    assert candidates == [
        "put a hot apple in fridge",
        "clean apple 1 with sinkbasin",
        "heat apple 1 with microwave",
        "cool apple 1 with fridge",
        "put apple 1 in/on fridge",
    ]
    hot = make_world(location="loc_countertop_a", held=["apple_a"], flags=[("ishot", "apple_a")])
    assert "heat apple 1 with microwave" not in subgoal_candidates(hot, [heat.goal], heat)  # done already
    for w in (world, at_counter, holding):
        for text in subgoal_candidates(w, [], heat):
            subgoal = parse_subgoal(text, w)
            assert subgoal is not None and not subgoal.holds(w), text  # readable, and not achieved yet
            assert not text.startswith(("go to", "open", "close")), text
    look = subtask("look_at_obj_in_light", "look at book under the desklamp", "Book", toggle="DeskLamp")
    assert subgoal_candidates(make_world(held=["book_a"]), [look.goal], look) == [look.goal, "use desklamp"]
    lit = [("istoggled", "desklamp_a")]  # switched on: at the desk nothing is left to do with it, elsewhere come back
    assert subgoal_candidates(make_world(location="loc_desk_a", flags=lit), [], look) == ["find book", "take book"]
    assert subgoal_candidates(make_world(flags=lit), [], look) == ["use desklamp", "find book", "take book"]
    two = subtask("pick_two_obj_and_place", "put two apple in fridge", "Apple", "Fridge")
    second = make_world(held=["apple_a"])  # apple 2 is already in fridge 1: the second one goes there too
    assert subgoal_candidates(second, [], two)[-2:] == ["put apple 1 in/on fridge", "put apple 1 in/on fridge 1"]
    assert len(subgoal_candidates(world, [f"goal {i}" for i in range(50)])) == 30


def test_candidates_name_every_kind_as_the_game_does():
    # A bathroom: the bathtub's basin is a sink basin to the engine, so both clean the cloth and both hold it.
    names = {"cloth_a": "cloth 1", "sink_a": "sinkbasin 1", "tub_a": "bathtubbasin 1", "bin_a": "garbagecan 1"}
    world = World(
        names=names,
        location="loc_start",
        held={"cloth_a"},
        object_type={"cloth_a": "cloth"},
        receptacle_type={"sink_a": "sinkbasin", "tub_a": "sinkbasin", "bin_a": "garbagecan"},
        receptacle_location={"sink_a": "l1", "tub_a": "l2", "bin_a": "l3"},
        flags={"cleanable": {"cloth_a"}},
        can_contain={("sinkbasin", "cloth")},
    )
    assert world.kind_names("SinkBasin", receptacle=True) == ["bathtubbasin", "sinkbasin"]
    clean = subtask("pick_clean_then_place_in_recep", "put a clean cloth in sinkbasin", "Cloth", "SinkBasin")
    assert subgoal_candidates(world, [], clean) == [
        "clean cloth 1 with bathtubbasin",
        "clean cloth 1 with sinkbasin",
        "put cloth 1 in/on bathtubbasin",
        "put cloth 1 in/on sinkbasin",
    ]
    assert canonical_subgoal("clean cloth 1 with bathtubbasin 1") == "clean cloth 1 with bathtubbasin"


def test_primitive_vocabulary_offers_the_next_commands():
    """``subgoal_vocabulary="primitive"`` (the offer before issue 21): go to / open / take here, readable, pending."""
    heat = subtask("pick_heat_then_place_in_recep", "put a hot apple in fridge", "Apple", "Fridge")
    at_counter = make_world(location="loc_countertop_a")
    offer = primitive_candidates(at_counter, [heat.goal], heat)
    assert offer[:2] == [heat.goal, "take apple 1"] and "go to fridge 1" in offer and "go to countertop 1" not in offer
    holding = make_world(location="loc_countertop_a", held=["apple_a"])
    offer = primitive_candidates(holding, [], heat)
    expected = {"heat apple 1 with microwave 1", "put apple 1 in/on fridge 1", "put apple 1 in/on countertop 1"}
    assert expected <= set(offer)
    for w in (at_counter, holding):
        for text in primitive_candidates(w, [], heat):
            subgoal = parse_subgoal(text, w)
            assert subgoal is not None and not subgoal.holds(w), text
    env = ALFWorldEnv(split="valid_seen", num_games=2, subgoal_vocabulary="primitive")
    _, info = env.reset(options={"game_index": 0})
    assert any(c.startswith("go to ") for c in info["subgoal_candidates"])
    env.close()
    with pytest.raises(ValueError, match="subgoal_vocabulary"):
        ALFWorldEnv(split="valid_seen", num_games=2, subgoal_vocabulary="words")


def test_env_verifies_task_and_free_text_along_the_walkthrough():
    env = ALFWorldEnv(split="valid_seen", num_games=4)
    _, info = env.reset(options={"game_index": 1})
    walkthrough = env.game.game["walkthrough"]
    assert env._subgoal_status(info["task"]) == "pending"
    assert env._subgoal_status("do a backflip") == "unknown"
    for command in walkthrough:
        _, _, terminated, _, info = env.step(command)
        subgoal = canonical_subgoal(command)
        if subgoal is not None:
            assert env._subgoal_status(subgoal) == "achieved", subgoal
    assert terminated and env._subgoal_status(info["task"]) == "achieved"
    assert env._subgoal_status(info["task"].upper() + "!") == "achieved"
    env.close()
