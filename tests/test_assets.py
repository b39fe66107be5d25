"""The course's diagrams, embedded in a cell's output."""

import pytest
from transformer_course.assets import asset_image, asset_path


def test_asset_image_embeds_the_diagram():
    html = asset_image("transformer.svg", width=500, alt="a <diagram>").data
    assert html.startswith('<img src="data:image/svg+xml;base64,') and 'width="500"' in html
    assert "&lt;diagram&gt;" in html


@pytest.mark.parametrize("name", ["missing.svg", "../README.md", "../assets/transformer.svg", "notes.txt"])
def test_a_name_outside_the_assets_is_refused(name):
    with pytest.raises(ValueError, match="name"):
        asset_path(name)
