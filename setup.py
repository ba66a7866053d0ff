"""Packaging: the metadata is in pyproject.toml; this file only maps the workflow into the wheel.

The repository keeps the Snakemake workflow and the profiles at its top level (``workflow/``,
``profiles/``); an installed wheel carries them inside the package, as ``neural_mi/_workflow``
and ``neural_mi/_profiles``, where ``neural-mi run`` finds them
(:func:`neural_mi.launch.resource_dir`).  An editable install (``pip install -e .``) uses
the checkout's folders directly.
"""

from setuptools import find_packages, setup

#: Package data folders of the wheel and the repository folders they are built from.
DATA_PACKAGES = {"neural_mi._workflow": "workflow", "neural_mi._profiles": "profiles"}

setup(
    packages=[*find_packages(include=["neural_mi", "neural_mi.*"]), *DATA_PACKAGES],
    package_dir=DATA_PACKAGES,
    package_data={
        "neural_mi": ["py.typed"],  # PEP 561: the package's annotations are for its users too
        "neural_mi._workflow": ["Snakefile", "rules/*.smk", "schemas/*.yaml", "report/*.rst"],
        "neural_mi._profiles": ["*/config.yaml"],
    },
)
