"""Preloaded into multiprocessing's forkserver by forecast.universe.lifeline.start_helpers:
importing it makes the forkserver die with the command that started it (prctl PDEATHSIG)."""

from forecast.universe.lifeline import die_with_parent

die_with_parent()
