import unittest


class StillBrain:
    def decide(self, creature, arena):
        return (0, 0)


class Walls:
    def contains(self, x, y):
        return 0 <= x < 3 and 0 <= y < 3


class CreatureTest(unittest.TestCase):
    def test_moving_costs_energy(self):
        c = Creature("t", 1, 1, StillBrain())
        c.step(Walls())
        self.assertEqual(c.energy, 9)

    def test_describe_names_the_creature(self):
        self.assertIn("t@(1,1)", Creature("t", 1, 1, StillBrain()).describe())


def test_a_new_creature_is_rested():
    assert Creature("t", 0, 0, StillBrain()).energy == 10
