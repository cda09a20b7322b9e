"""sim06: a simulator of Vietnam's Project 06 national systems, installed under one name.

The code lives in the repository's top-level ``services/`` and ``mock_registry/`` folders; this
package holds them (as ``sim06.services`` and ``sim06.mock_registry``) so that installing sim06
into an agency's environment adds no generic top-level name that could shadow the agency's own
``services`` package.
"""
