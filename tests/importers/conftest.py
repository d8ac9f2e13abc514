import pytest
from support.modules import load_sibling


@pytest.fixture(scope="session")
def dumps():
    """Writers of each framework's dump format (tests/importers/dumps.py)."""
    return load_sibling(__file__, "dumps", as_name="unipo_tests_importers_dumps")


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory):
    """A Hugging Face tokenizer saved to a local folder (UNIPO's character tokenizer): --tokenizer DIR, offline."""
    from unipo.models.tiny import build_char_tokenizer
    folder = tmp_path_factory.mktemp("tokenizer")
    build_char_tokenizer().save_pretrained(folder)
    return folder
