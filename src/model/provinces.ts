/**
 * Iran's 31 provinces: the id an inventory's district files write (`province:`), and the names a
 * report shows for it. A fact of the country, kept here once: the report labels the provinces on
 * the national map, and the synthetic national inventory places its districts in them.
 */
export interface ProvinceName {
  readonly id: string;
  readonly fa: string;
  readonly en: string;
}

// One a line: on one line, these Persian words would exceed 160 characters.
// prettier-ignore
export const PROVINCE_NAMES: readonly ProvinceName[] = [
  { id: "tehran", fa: "تهران", en: "Tehran" },
  { id: "razavi-khorasan", fa: "خراسان رضوی", en: "Razavi Khorasan" },
  { id: "isfahan", fa: "اصفهان", en: "Isfahan" },
  { id: "fars", fa: "فارس", en: "Fars" },
  { id: "khuzestan", fa: "خوزستان", en: "Khuzestan" },
  { id: "east-azarbaijan", fa: "آذربایجان شرقی", en: "East Azarbaijan" },
  { id: "mazandaran", fa: "مازندران", en: "Mazandaran" },
  { id: "west-azarbaijan", fa: "آذربایجان غربی", en: "West Azarbaijan" },
  { id: "kerman", fa: "کرمان", en: "Kerman" },
  { id: "sistan-baluchestan", fa: "سیستان و بلوچستان", en: "Sistan and Baluchestan" },
  { id: "alborz", fa: "البرز", en: "Alborz" },
  { id: "gilan", fa: "گیلان", en: "Gilan" },
  { id: "kermanshah", fa: "کرمانشاه", en: "Kermanshah" },
  { id: "golestan", fa: "گلستان", en: "Golestan" },
  { id: "hormozgan", fa: "هرمزگان", en: "Hormozgan" },
  { id: "lorestan", fa: "لرستان", en: "Lorestan" },
  { id: "hamadan", fa: "همدان", en: "Hamadan" },
  { id: "kurdistan", fa: "کردستان", en: "Kurdistan" },
  { id: "markazi", fa: "مرکزی", en: "Markazi" },
  { id: "qom", fa: "قم", en: "Qom" },
  { id: "qazvin", fa: "قزوین", en: "Qazvin" },
  { id: "ardabil", fa: "اردبیل", en: "Ardabil" },
  { id: "bushehr", fa: "بوشهر", en: "Bushehr" },
  { id: "yazd", fa: "یزد", en: "Yazd" },
  { id: "zanjan", fa: "زنجان", en: "Zanjan" },
  { id: "chaharmahal-bakhtiari", fa: "چهارمحال و بختیاری", en: "Chaharmahal and Bakhtiari" },
  { id: "north-khorasan", fa: "خراسان شمالی", en: "North Khorasan" },
  { id: "south-khorasan", fa: "خراسان جنوبی", en: "South Khorasan" },
  { id: "kohgiluyeh-boyerahmad", fa: "کهگیلویه و بویراحمد", en: "Kohgiluyeh and Boyer-Ahmad" },
  { id: "semnan", fa: "سمنان", en: "Semnan" },
  { id: "ilam", fa: "ایلام", en: "Ilam" },
];

const BY_ID = new Map(PROVINCE_NAMES.map((p) => [p.id, p]));

/** A province's name in a language; an id this list does not know is shown as it is written. */
export function provinceName(id: string, lang: "fa" | "en"): string {
  return BY_ID.get(id)?.[lang] ?? id;
}
