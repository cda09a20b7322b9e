"""Test harness for integrators: snapshot/reset of state, expectations, the pytest plugin.

state.py        snapshot/restore parts registered on ``app.state`` (gateway, identity, faults,
                journal, expectations)
expectations.py "for PIN X force outcome Y": the model, the store, the operations it targets
middleware.py   install_testing_tools(app, settings): the /__sim06/ admin API and expectations
plugin.py       the pytest plugin (``-p sim06.services.testing.plugin``; entry point ``sim06``)
"""

from sim06.services.testing.middleware import install_testing_tools

__all__ = ["install_testing_tools"]
