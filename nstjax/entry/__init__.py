"""The front door: every console script's ``main``, one module each, thin over the library.

``nstjax`` (``stylize``: Hydra), ``nstjax-compare`` (``compare``), ``nstjax-video`` (``video``), ``nstjax-score``
(``score``), ``nstjax-report`` (``report``), ``nstjax-tune`` (``tune``), ``nstjax-weights`` (``weights``). They
parse arguments, turn a user's mistake into one ``error:`` line and call the same functions as the Python API
(``nstjax.api``); no library module parses arguments.
"""
