"""Reusable widgets of the wizard (dialogs, cards, galleries, plots)."""
