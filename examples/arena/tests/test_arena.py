"""Tests kept in a tests/ folder. They import the arena's names, so they depend on the
scripts those names come from (R15): a change to ai/brain.py or arena.py runs them too,
and a change that breaks them is rejected, naming the failing test."""

from arena import Arena
from arena.ai import MOVES

__all__ = []  # a tests/ script exports nothing


def test_moves_are_single_steps():
    assert all(abs(dx) + abs(dy) == 1 for dx, dy in MOVES)


def test_a_tick_moves_a_creature_one_square():
    world = Arena(5, 5)
    creature = world.spawn("t", 2, 2)
    world.tick()
    assert abs(creature.x - 2) + abs(creature.y - 2) == 1
