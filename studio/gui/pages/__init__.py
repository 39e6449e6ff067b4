"""One module per wizard page; :mod:`studio.gui.pages.base` holds what they share."""
