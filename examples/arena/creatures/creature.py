"""Creatures: position, energy, and a brain that picks their moves."""


class Creature:
    def __init__(self, name, x, y, brain):
        self.name = name
        self.x = x
        self.y = y
        self.energy = 10
        self.brain = brain

    def step(self, arena):
        dx, dy = self.brain.decide(self, arena)
        if arena.contains(self.x + dx, self.y + dy):
            self.x += dx
            self.y += dy
            self.energy -= 1
        else:
            self.energy += 1

    def describe(self):
        return f"{self.name}@({self.x},{self.y}) e={self.energy}"
