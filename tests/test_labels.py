import numpy
import pytest

from neuralcollage import labels
from neuralcollage.labels import (UnknownLabelError, Vocabulary, dogs_and_cats, from_names,
                                  get_vocabulary, imagenet1k, numbered)


def test_imagenet1k_basic():
    vocab = imagenet1k()
    assert len(vocab) == 1000
    assert vocab.name == "imagenet1k"
    assert vocab.names[0] == "tench"
    assert vocab.ids[0] == "n01440764"
    assert vocab.ids[259] == "n02112018"
    assert vocab.synonyms(2)[:2] == ("great white shark", "white shark")
    assert vocab[259] == "Pomeranian"


def test_dogs_and_cats_basic():
    vocab = dogs_and_cats()
    assert len(vocab) == 143
    assert vocab.names[0] == "Chihuahua"
    assert vocab.names[-1] == "cheetah"
    assert vocab.ids == imagenet1k().ids[151:294]
    for i in (0, 50, 108, 142):
        assert vocab.names[i] == imagenet1k().names[labels.DOGS_AND_CATS_IMAGENET_IDS[i]]


@pytest.mark.parametrize("query", ["Pomeranian", "pomeranian", "POMERANIAN", "  pomeranian ", "259",
                                   259, numpy.int64(259)])
def test_pomeranian_imagenet(query):
    assert imagenet1k().index(query) == 259


@pytest.mark.parametrize("query", ["Pomeranian", "pomeranian", "108", 108])
def test_pomeranian_dogs_and_cats(query):
    assert dogs_and_cats().index(query) == 108


@pytest.mark.parametrize("query, expected", [
    ("Siberian husky", 250),
    ("siberian_husky", 250),
    ("Siberian-Husky", 250),
    ("siberian    husky", 250),
    ("tabby cat", 281),
    ("Tabby", 281),
    ("husky", 248),            # a synonym of "Eskimo dog"
    ("white shark", 2),
    ("man-eater", 2),
    ("man eater", 2),
    ("jack-o'-lantern", 607),
])
def test_synonyms_and_normalisation(query, expected):
    assert imagenet1k().index(query) == expected


def test_ambiguous_synonyms_resolve_to_first():
    vocab = imagenet1k()
    assert vocab.index("crane") == 134           # the bird, not the machine (517)
    assert vocab.names[517] == "crane"
    assert vocab.index("maillot") == 638
    assert vocab.index("tank suit") == 639
    # a display name wins over another class's secondary synonym; "panda" is secondary for both pandas
    assert vocab.index("panda") == 387
    assert vocab.index("giant panda") == 388


def test_unknown_label_suggestions():
    with pytest.raises(UnknownLabelError) as info:
        imagenet1k().index("pomeranain")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unknown label 'pomeranain' for imagenet1k; did you mean: Pomeranian")
    assert isinstance(info.value, ValueError)


def test_unknown_label_suggestion_names_are_valid_inputs():
    vocab = imagenet1k()
    for hint in vocab.suggestions("siberian huskey"):
        vocab.index(hint)
    assert vocab.suggestions("siberian huskey")[0] == "Siberian husky"


def test_unknown_label_without_close_match():
    with pytest.raises(UnknownLabelError, match="no close match"):
        dogs_and_cats().index("xqzvw")


@pytest.mark.parametrize("bad", [1000, -1, "1000", "-1", "+1000"])
def test_index_out_of_range(bad):
    with pytest.raises(UnknownLabelError, match=r"out of range for imagenet1k \(valid: 0-999\)"):
        imagenet1k().index(bad)


@pytest.mark.parametrize("bad", [143, -5])
def test_index_out_of_range_dogs_and_cats(bad):
    with pytest.raises(UnknownLabelError, match="valid: 0-142"):
        dogs_and_cats().index(bad)


@pytest.mark.parametrize("bad", [2.0, None, True, [1]])
def test_index_rejects_non_integers(bad):
    with pytest.raises(UnknownLabelError):
        imagenet1k().index(bad)


def test_dogs_and_cats_rejects_non_member():
    with pytest.raises(UnknownLabelError):
        dogs_and_cats().index("goldfish")


def test_search():
    vocab = imagenet1k()
    assert vocab.search("husky") == [(248, "Eskimo dog"), (250, "Siberian husky")]
    cats = vocab.search("cat", limit=6)
    assert len(cats) == 6
    assert cats[0] == (281, "tabby")                    # whole-word matches before "catamaran"
    assert (484, "catamaran") not in cats
    assert (484, "catamaran") in vocab.search("cat", limit=None)
    assert vocab.search("Persian_Cat") == [(283, "Persian cat")]
    assert vocab.search("no such thing") == []
    assert len(vocab.search("", limit=None)) == 1000
    assert vocab.search("", limit=3) == [(0, "tench"), (1, "goldfish"), (2, "great white shark")]
    assert dogs_and_cats().search("pomeranian") == [(108, "Pomeranian")]


def test_from_names():
    vocab = from_names(("cat", "dog", "fox", "rabbit", "bear", "panda"), name="animals6")
    assert len(vocab) == 6
    assert vocab.name == "animals6"
    assert vocab.index("Panda") == 5
    assert vocab.index("3") == 3
    assert vocab.ids is None
    with pytest.raises(UnknownLabelError, match="did you mean: rabbit"):
        vocab.index("rabit")
    synonyms = from_names([["cat", "kitty"], "dog"])
    assert synonyms.index("KITTY") == 0 and synonyms.synonyms("kitty") == ("cat", "kitty")


@pytest.mark.parametrize("names", [(), ("cat", "Cat"), ("cat", "")])
def test_from_names_errors(names):
    with pytest.raises(ValueError):
        from_names(names)


def test_numbered():
    vocab = numbered(200, "cub200")
    assert len(vocab) == 200 and vocab.name == "cub200"
    assert vocab.names[0] == "class 0" and vocab.names[199] == "class 199"
    assert vocab.index("Class 7") == 7
    assert vocab.index("class_12") == 12
    assert vocab.index("12") == 12
    with pytest.raises(UnknownLabelError, match="valid: 0-199"):
        vocab.index(200)
    with pytest.raises(ValueError):
        numbered(0)


def test_get_vocabulary():
    assert get_vocabulary("imagenet1k") is imagenet1k()
    assert get_vocabulary("ImageNet1k") is imagenet1k()
    assert get_vocabulary("dogs_and_cats") is dogs_and_cats()
    assert get_vocabulary("dogs-and-cats") is dogs_and_cats()
    assert get_vocabulary("numbered:200") == numbered(200)
    assert get_vocabulary(numbered(200)) == numbered(200)
    vocab = from_names(["a", "b"])
    assert get_vocabulary(vocab) is vocab
    with pytest.raises(ValueError, match="known: imagenet1k, dogs_and_cats"):
        get_vocabulary("cifar10")


def test_vocabulary_is_immutable_and_hashable():
    vocab = from_names(["a", "b"], name="ab")
    with pytest.raises(AttributeError):
        vocab.name = "other"
    with pytest.raises(AttributeError):
        vocab._lookup = {}
    with pytest.raises(TypeError):
        vocab._lookup["c"] = 2
    assert isinstance(vocab.names, tuple)
    assert hash(vocab) == hash(from_names(["a", "b"], name="ab"))
    assert "a" in vocab and "c" not in vocab and 1 in vocab and 2 not in vocab
    assert list(vocab) == ["a", "b"]
    assert "ab" in repr(vocab) and "2 classes" in repr(vocab)


def test_vocabulary_ids_length_checked():
    with pytest.raises(ValueError, match="2 ids for 1 classes"):
        Vocabulary("x", ["a"], ids=["n1", "n2"])
