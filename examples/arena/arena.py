"""The arena: a small world that moves creatures around, one tick at a time.

Loaded by relive as the namespace `arena`; `creatures/` and `ai/` become `arena.creatures`
and `arena.ai`.
"""

from arena.ai import Brain
from arena.creatures import Creature

WIDTH = 20
HEIGHT = 10


class Arena:
    def __init__(self, width=WIDTH, height=HEIGHT):
        self.width = width
        self.height = height
        self.creatures = []
        self.ticks = 0

    def spawn(self, name, x, y):
        creature = Creature(name, x, y, Brain())
        self.creatures.append(creature)
        return creature

    def tick(self):
        self.ticks += 1
        for creature in self.creatures:
            creature.step(self)
        return self.describe()

    def contains(self, x, y):
        return 0 <= x < self.width and 0 <= y < self.height

    def describe(self):
        where = ", ".join(c.describe() for c in self.creatures)
        return f"tick {self.ticks}: {where}"


WORLD = Arena()
WORLD.spawn("ada", 1, 1)
WORLD.spawn("bob", 10, 5)


def tick():
    """Advance the shared world by one tick and describe it (for `relive watch --run`)."""
    return WORLD.tick()
