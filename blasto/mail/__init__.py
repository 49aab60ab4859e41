"""Outgoing e-mail: settings from the environment, composing, and the transports."""
