import unittest


class BrainTest(unittest.TestCase):
    def test_moves_are_single_steps(self):
        brain = Brain()
        for _ in range(12):
            dx, dy = brain.decide(None, None)
            self.assertEqual(abs(dx) + abs(dy), 1)
