"""Settings for every test run, unit tests and notebooks alike (the notebooks' kernels
inherit this process's environment).

OpenMP threads that wait for work spin on their core by default. When other jobs
share the cores (two torch processes, or a CI machine running several builds) the
spinning threads steal time from the ones doing work: a small training loop measured
here ran 4 to 10 times slower than with waiting threads that sleep. Set before torch
is imported; a value the user set wins.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
