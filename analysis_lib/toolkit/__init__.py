"""Toolkit: study-agnostic code that runs on any study's ADaM — statistics, ARDs, display frames,
TLF objects and their renderers, figures. Imports nothing from the trial, pipeline or generator."""
