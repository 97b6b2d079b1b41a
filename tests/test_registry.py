"""What each model family must declare, checked so that adding one cannot skip a step.

CONTRIBUTING.md's "Adding a model family": registry names on the class (`VARIANTS`), tiny
test settings for the model harness, and a `QAT_SUPPORTED` flag that agrees with the layers
the export's tf_keras twin translates. Each failure names the file to edit.
"""

from __future__ import annotations

import pytest

from fixtures import FAMILY_REPRESENTATIVES, TINY
from fixtures import tiny_model as tiny
from keras_ecgpe.errors import ConfigError
from keras_ecgpe.export.qat.layer_keys import LAYER_KEYS
from keras_ecgpe.models import list_families, list_models, model_family
from keras_ecgpe.models.registry import FAMILIES, MODELS, _entries


def test_registry_is_the_families_variants_in_order():
    expected = [name for family in list_families() for name in family.VARIANTS]
    assert list_models() == expected and len(expected) == len(set(expected))
    assert [family.__name__ for family in list_families()] == [
        entry.split(":")[1] for entry in FAMILIES
    ]
    assert all(model_family(name) is MODELS[name][0] for name in list_models())


def test_a_name_declared_twice_is_refused():
    vgg, resnet = (model_family("vgg11"), model_family("resnet1d18"))
    with pytest.raises(ConfigError, match="'vgg11'.*VGG1D and VGG1D"):
        _entries([vgg, vgg])
    assert set(_entries([vgg, resnet])) == set(vgg.VARIANTS) | set(resnet.VARIANTS)


def test_every_family_has_tiny_settings_and_a_representative():
    represented = {model_family(name) for name in FAMILY_REPRESENTATIVES}
    missing = [family.__name__ for family in list_families() if family not in represented]
    assert not missing, (
        f"families without a tiny representative: {missing}; add tiny settings for one of "
        "their names to TINY in tests/fixtures.py and the name to FAMILY_REPRESENTATIVES"
    )
    untiny = [name for name in FAMILY_REPRESENTATIVES if name not in TINY]
    assert not untiny, f"add tiny settings for {untiny} to TINY in tests/fixtures.py"
    unknown = sorted(set(TINY) - set(list_models()))
    assert not unknown, f"TINY in tests/fixtures.py names unregistered models: {unknown}"


def test_tiny_model_without_settings_says_where_to_add_them():
    with pytest.raises(KeyError, match="add them to TINY in tests/fixtures.py"):
        tiny("vgg19")


@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
def test_qat_supported_matches_the_layers_the_twin_translates(name):
    backbone = tiny(name).backbone
    untranslated = sorted(
        {type(layer).__name__ for layer in backbone.layers} - {"InputLayer", *LAYER_KEYS}
    )
    family = type(backbone)
    assert family.QAT_SUPPORTED == (not untranslated), (
        f"{family.__name__}.QAT_SUPPORTED is {family.QAT_SUPPORTED} but its layers the "
        f"QAT twin cannot translate are {untranslated or 'none'} "
        "(export/qat/layer_keys.py lists the ones it can)"
    )
