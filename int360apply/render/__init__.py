"""Renderers: each turns a value (problems, settings, a plan) into text. No I/O."""
