"""phy / Kilosort folders: units, labels, sampling rate from params.py, errors."""

from __future__ import annotations

import numpy as np
import pytest

from neural_mi.data.sources import PhySourceConfig, describe_source, load_source
from neural_mi.data.sources import phy as phy_module
from neural_mi.errors import DataSourceError

RATE = 30000.0

#: (sample, cluster) of each spike; Kilosort writes them in time order.
SPIKES = [
    (300, 2),
    (3000, 5),
    (6000, 2),
    (15000, 9),
    (30000, 5),
    (45000, 2),
    (60000, 9),
    (90000, 2),
]


def write_phy(folder, *, params=True, clusters=True, rate=RATE, group=True, info=False):
    folder.mkdir()
    samples = np.array([s for s, _ in SPIKES], dtype=np.uint64)
    np.save(folder / "spike_times.npy", samples[:, None])  # Kilosort's (n, 1) layout
    np.save(folder / "spike_templates.npy", np.array([c for _, c in SPIKES], dtype=np.uint32))
    if clusters:
        np.save(folder / "spike_clusters.npy", np.array([c for _, c in SPIKES], dtype=np.int32))
    if params:
        (folder / "params.py").write_text(
            "dat_path = 'recording.dat'\n"
            "n_channels_dat = 32\n"
            "dtype = 'int16'\n"
            "offset = 0\n"
            + ("" if rate is None else f"sample_rate = {rate}\n")
            + "hp_filtered = False\n"
            # not a literal: would write a file if params.py were executed
            + "side_effect = open('EXECUTED', 'w')\n"
        )
    (folder / "cluster_KSLabel.tsv").write_text(
        "cluster_id\tKSLabel\n2\tgood\n5\tmua\n9\tgood\n13\tgood\n"
    )
    if group:
        (folder / "cluster_group.tsv").write_text("cluster_id\tgroup\n2\tgood\n5\tgood\n9\tnoise\n")
    if info:
        (folder / "cluster_info.tsv").write_text(
            "cluster_id\tgroup\tch\tn_spikes\n2\tmua\t4\t4\n5\tmua\t7\t2\n9\tgood\t7\t2\n"
        )
    return folder


def spikes_of(cluster):
    return np.array([s / RATE for s, c in SPIKES if c == cluster])


def test_all_units(tmp_path, monkeypatch):
    folder = write_phy(tmp_path / "sorting")
    monkeypatch.chdir(tmp_path)
    config = {"path": str(folder)}  # a folder: phy inferred
    trains = load_source(config)
    assert trains.unit_ids == (2, 5, 9)  # clusters that own spikes (13 is labelled only)
    for unit, train in zip(trains.unit_ids, trains.times):
        assert train.dtype == np.float64
        np.testing.assert_array_equal(train, spikes_of(unit))
    assert trains.span == (0.0, 3.0)  # sample 0 to the last spike (90000 / 30 kHz)
    info = describe_source(config)
    assert info.unit_ids == trains.unit_ids and info.span == trains.span
    assert not (tmp_path / "EXECUTED").exists()  # params.py was parsed, not run


def test_label_selection(tmp_path):
    folder = write_phy(tmp_path / "sorting")
    good = load_source({"path": str(folder), "units": {"where": {"group": "good"}}})
    assert good.unit_ids == (2, 5)
    np.testing.assert_array_equal(good.times[1], spikes_of(5))
    kilosort_good = describe_source({"path": str(folder), "units": {"where": {"KSLabel": "good"}}})
    assert kilosort_good.unit_ids == (2, 9)
    both = describe_source(
        {"path": str(folder), "units": {"where": {"KSLabel": "good", "group": "good"}}}
    )
    assert both.unit_ids == (2,)
    ordered = load_source({"path": str(folder), "units": {"ids": [9, 2]}})
    assert ordered.unit_ids == (9, 2)
    np.testing.assert_array_equal(ordered.times[0], spikes_of(9))


def test_group_file_overrides_cluster_info(tmp_path):
    folder = write_phy(tmp_path / "sorting", info=True)
    good = describe_source({"path": str(folder), "units": {"where": {"group": "good"}}})
    assert good.unit_ids == (2, 5)  # cluster_group.tsv, not cluster_info.tsv's group
    on_channel = describe_source({"path": str(folder), "units": {"where": {"ch": 7}}})
    assert on_channel.unit_ids == (5, 9)  # numeric labels compare as numbers


def test_time_range(tmp_path):
    folder = write_phy(tmp_path / "sorting")
    trains = load_source({"path": str(folder), "time_range": [0.1, 2.0]})
    np.testing.assert_array_equal(trains.times[0], [0.2, 1.5])
    np.testing.assert_array_equal(trains.times[1], [0.1, 1.0])  # 0.1 s: the closed start
    np.testing.assert_array_equal(trains.times[2], [0.5])
    assert trains.span == (0.1, 2.0)


def test_scan_in_blocks_gives_the_same_trains(tmp_path, monkeypatch):
    folder = write_phy(tmp_path / "sorting")
    whole = load_source({"path": str(folder)})
    monkeypatch.setattr(phy_module, "_SCAN_SPIKES", 3)
    blocks = load_source({"path": str(folder)})
    assert blocks.unit_ids == whole.unit_ids and blocks.span == whole.span
    for a, b in zip(blocks.times, whole.times):
        np.testing.assert_array_equal(a, b)


def test_sampling_rate(tmp_path):
    no_rate = write_phy(tmp_path / "no_rate", rate=None)
    with pytest.raises(DataSourceError, match=r"no sampling rate.*give sampling_rate: <Hz>"):
        describe_source({"path": str(no_rate)})
    halved = load_source({"path": str(no_rate), "sampling_rate": RATE / 2})
    np.testing.assert_array_equal(halved.times[0], spikes_of(2) * 2)
    no_params = write_phy(tmp_path / "no_params", params=False)
    with pytest.raises(DataSourceError, match="params.py is missing or has no sample_rate"):
        load_source({"path": str(no_params)})
    folder = write_phy(tmp_path / "sorting")
    with pytest.raises(DataSourceError, match="15000 Hz disagrees with params.py's sample_rate"):
        describe_source({"path": str(folder), "sampling_rate": 15000.0})
    assert describe_source({"path": str(folder), "sampling_rate": RATE}).span == (0.0, 3.0)


def test_folder_errors(tmp_path):
    no_clusters = write_phy(tmp_path / "kilosort_only", clusters=False)
    with pytest.raises(DataSourceError, match=r"kilosort_only.*no spike_clusters.npy.*templates"):
        describe_source({"path": str(no_clusters)})
    folder = write_phy(tmp_path / "sorting")
    with pytest.raises(DataSourceError, match=r"names column 'quality'.*KSLabel, group"):
        describe_source({"path": str(folder), "units": {"where": {"quality": "good"}}})
    nothing = r"matches none of its 3 units \(group values: 'good' \(2\), 'noise' \(1\)\)"
    with pytest.raises(DataSourceError, match=nothing):
        describe_source({"path": str(folder), "units": {"where": {"group": "mua"}}})
    with pytest.raises(DataSourceError, match=r"units.ids \[13\] not found; unit ids: 2, 5, 9"):
        describe_source({"path": str(folder), "units": {"ids": [13]}})
    with pytest.raises(DataSourceError, match="not found"):
        describe_source({"path": str(tmp_path / "absent"), "format": "phy"})
    np.save(folder / "spike_clusters.npy", np.zeros(3, dtype=np.int32))
    with pytest.raises(DataSourceError, match="has 8 spikes but spike_clusters.npy 3"):
        describe_source({"path": str(folder)})


def test_config_model():
    config = PhySourceConfig(path="sorting", units={"where": {"group": "good"}})
    assert config.format == "phy" and config.units.where == {"group": "good"}
    with pytest.raises(ValueError, match="greater than 0"):
        PhySourceConfig(path="sorting", sampling_rate=0)
