import { provinceName } from "../provinces.ts";

/**
 * Persian words for synthetic names: realistic in shape, fictional in
 * detail. Provinces are the real 31, with rough centres and weights (their
 * share of the country's polling stations, approximate).
 */
export interface Province {
  readonly id: string;
  readonly name: string;
  readonly lat: number;
  readonly lon: number;
  readonly weight: number;
}

const CENTRES: readonly Omit<Province, "name">[] = [
  { id: "tehran", lat: 35.69, lon: 51.39, weight: 11.4 },
  { id: "razavi-khorasan", lat: 36.3, lon: 59.6, weight: 7.6 },
  { id: "isfahan", lat: 32.65, lon: 51.67, weight: 6.2 },
  { id: "fars", lat: 29.59, lon: 52.58, weight: 6.3 },
  { id: "khuzestan", lat: 31.32, lon: 48.67, weight: 5.6 },
  { id: "east-azarbaijan", lat: 38.08, lon: 46.29, weight: 5.0 },
  { id: "mazandaran", lat: 36.57, lon: 53.06, weight: 4.6 },
  { id: "west-azarbaijan", lat: 37.55, lon: 45.07, weight: 4.2 },
  { id: "kerman", lat: 30.28, lon: 57.08, weight: 4.4 },
  { id: "sistan-baluchestan", lat: 29.5, lon: 60.86, weight: 3.9 },
  { id: "alborz", lat: 35.84, lon: 50.94, weight: 2.8 },
  { id: "gilan", lat: 37.28, lon: 49.58, weight: 3.6 },
  { id: "kermanshah", lat: 34.31, lon: 47.07, weight: 2.9 },
  { id: "golestan", lat: 36.84, lon: 54.43, weight: 2.6 },
  { id: "hormozgan", lat: 27.18, lon: 56.27, weight: 2.6 },
  { id: "lorestan", lat: 33.49, lon: 48.35, weight: 2.5 },
  { id: "hamadan", lat: 34.8, lon: 48.51, weight: 2.4 },
  { id: "kurdistan", lat: 35.31, lon: 46.99, weight: 2.2 },
  { id: "markazi", lat: 34.09, lon: 49.69, weight: 2.0 },
  { id: "qom", lat: 34.64, lon: 50.88, weight: 1.4 },
  { id: "qazvin", lat: 36.27, lon: 50.0, weight: 1.6 },
  { id: "ardabil", lat: 38.25, lon: 48.29, weight: 1.9 },
  { id: "bushehr", lat: 28.92, lon: 50.84, weight: 1.5 },
  { id: "yazd", lat: 31.9, lon: 54.37, weight: 1.5 },
  { id: "zanjan", lat: 36.68, lon: 48.48, weight: 1.5 },
  { id: "chaharmahal-bakhtiari", lat: 32.33, lon: 50.86, weight: 1.3 },
  { id: "north-khorasan", lat: 37.47, lon: 57.33, weight: 1.3 },
  { id: "south-khorasan", lat: 32.87, lon: 59.22, weight: 1.4 },
  { id: "kohgiluyeh-boyerahmad", lat: 30.67, lon: 51.59, weight: 1.2 },
  { id: "semnan", lat: 35.58, lon: 53.39, weight: 1.1 },
  { id: "ilam", lat: 33.64, lon: 46.42, weight: 1.0 },
];

export const PROVINCES: readonly Province[] = CENTRES.map((c) => ({ ...c, name: provinceName(c.id, "fa") }));

// One a line: on one line, these Persian words would exceed 160 bytes.
// prettier-ignore
export const SCHOOL_KINDS = [
  "دبستان",
  "دبستان دخترانه",
  "دبستان پسرانه",
  "مدرسه",
  "دبیرستان",
  "دبیرستان دخترانه",
  "هنرستان",
  "پیش‌دبستانی",
] as const;
export const OTHER_SITES = [
  { prefix: "مسجد", owner: "mosque" },
  { prefix: "حسینیه", owner: "mosque" },
  { prefix: "فرهنگسرای", owner: "municipality" },
  { prefix: "سرای محله", owner: "municipality" },
  { prefix: "خانه بهداشت", owner: "health" },
  { prefix: "بخشداری", owner: "governorate" },
] as const;

export const PATRONS = [
  "شهید بهشتی",
  "شهید مطهری",
  "شهید رجایی",
  "شهید باهنر",
  "شهید چمران",
  "امام خمینی",
  "امام رضا",
  "امام علی",
  "حضرت فاطمه",
  "فردوسی",
  "سعدی",
  "حافظ",
  "خیام",
  "مولوی",
  "پروین اعتصامی",
  "نیما یوشیج",
  "ابن سینا",
  "خوارزمی",
  "رازی",
  "فارابی",
  "ابوریحان بیرونی",
  "علامه طباطبایی",
  "شهید فهمیده",
  "شهید همت",
  "شهید باکری",
  "شهید خرازی",
  "استقلال",
  "آزادی",
  "انقلاب",
  "فجر",
  "بهار",
  "نور",
  "امید",
  "دانش",
  "اندیشه",
  "فرهنگ",
  "ایثار",
  "شاهد",
  "هدایت",
  "کوثر",
  "ریحانه",
  "نرگس",
  "یاس",
  "لاله",
  "سپیده",
  "صبا",
  "طلوع",
  "معرفت",
];

// One a line: on one line, these Persian words would exceed 160 bytes.
// prettier-ignore
export const PLACES = [
  "آباد",
  "دشت",
  "کوه",
  "رود",
  "چشمه",
  "باغ",
  "قلعه",
  "ده",
  "سرا",
  "کلا",
  "ور",
  "کند",
  "شهر",
  "زار",
  "بند",
  "گاه",
];
export const PLACE_STEMS = [
  "حسن",
  "علی",
  "محمد",
  "نصیر",
  "کریم",
  "جعفر",
  "قاسم",
  "مهدی",
  "رحیم",
  "سلیمان",
  "شاه",
  "امیر",
  "خسرو",
  "بهرام",
  "فیروز",
  "گل",
  "سبز",
  "سرخ",
  "سفید",
  "کبود",
  "نو",
  "کهنه",
  "بالا",
  "پایین",
  "میان",
  "خیر",
  "زرین",
  "نیک",
];

// One a line: on one line, these Persian words would exceed 160 bytes.
// prettier-ignore
export const FIRST_NAMES = [
  "علی",
  "محمد",
  "حسین",
  "رضا",
  "مهدی",
  "زهرا",
  "فاطمه",
  "مریم",
  "سارا",
  "نرگس",
  "حمید",
  "مجید",
  "سعید",
  "لیلا",
  "الهام",
  "کاوه",
];
export const LAST_NAMES = [
  "رحیمی",
  "محمدی",
  "حسینی",
  "کریمی",
  "احمدی",
  "جعفری",
  "موسوی",
  "صادقی",
  "قاسمی",
  "نوری",
  "کاظمی",
  "یزدانی",
  "شریفی",
  "توکلی",
  "نیک‌نام",
  "فرهادی",
];
