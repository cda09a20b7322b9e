"""The population registry's data: the synthetic population, personas, chip and stores."""

from sim06.mock_registry import compiled as _compiled

# True when the generator's modules run compiled by mypyc (`make` builds them; see compiled.py).
NATIVE = _compiled.activate()
