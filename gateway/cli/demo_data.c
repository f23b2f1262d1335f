/* A deterministic synthetic French population for the demo (docs/datasets.md, "Demo data").
 * Same seed, same bytes: the PRNG is our own (xoshiro256** seeded by splitmix64) and nothing
 * depends on the clock.  Every person is made up; identifiers are well-formed (valid NIR and
 * IBAN check digits) but random. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecl/schema.h"
#include "records_cli.h"

/* ---- PRNG ---------------------------------------------------------------------------------- */

struct prng {
    uint64_t s[4];
};

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** 1.0 (Blackman and Vigna) */
static uint64_t
prng_next(struct prng *p)
{
    uint64_t *s = p->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void
prng_seed(struct prng *p, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        p->s[i] = splitmix64(&seed);
    }
}

/* Uniform in [0, n) by multiply-shift (Lemire); n > 0. */
static uint32_t
below(struct prng *p, uint32_t n)
{
    return (uint32_t)(((prng_next(p) >> 32) * (uint64_t)n) >> 32);
}

static int
chance(struct prng *p, unsigned percent)
{
    return below(p, 100) < percent;
}

/* ---- tables -------------------------------------------------------------------------------- */

struct commune {
    const char *name;
    const char *postcode;
    const char *insee;
};

/* Real communes with one of their postcodes and their INSEE code. */
static const struct commune communes[] = {
    {"Paris", "75011", "75111"},
    {"Paris", "75015", "75115"},
    {"Paris", "75018", "75118"},
    {"Paris", "75020", "75120"},
    {"Paris", "75013", "75113"},
    {"Marseille", "13001", "13055"},
    {"Lyon", "69001", "69123"},
    {"Toulouse", "31000", "31555"},
    {"Nice", "06000", "06088"},
    {"Nantes", "44000", "44109"},
    {"Strasbourg", "67000", "67482"},
    {"Montpellier", "34000", "34172"},
    {"Bordeaux", "33000", "33063"},
    {"Lille", "59000", "59350"},
    {"Rennes", "35000", "35238"},
    {"Reims", "51100", "51454"},
    {"Le Havre", "76600", "76351"},
    {"Saint-Étienne", "42000", "42218"},
    {"Toulon", "83000", "83137"},
    {"Grenoble", "38000", "38185"},
    {"Dijon", "21000", "21231"},
    {"Angers", "49000", "49007"},
    {"Nîmes", "30000", "30189"},
    {"Villeurbanne", "69100", "69266"},
    {"Clermont-Ferrand", "63000", "63113"},
    {"Le Mans", "72000", "72181"},
    {"Aix-en-Provence", "13100", "13001"},
    {"Brest", "29200", "29019"},
    {"Tours", "37000", "37261"},
    {"Amiens", "80000", "80021"},
    {"Limoges", "87000", "87085"},
    {"Annecy", "74000", "74010"},
    {"Perpignan", "66000", "66136"},
    {"Boulogne-Billancourt", "92100", "92012"},
    {"Metz", "57000", "57463"},
    {"Besançon", "25000", "25056"},
    {"Orléans", "45000", "45234"},
    {"Saint-Denis", "93200", "93066"},
    {"Argenteuil", "95100", "95018"},
    {"Rouen", "76000", "76540"},
    {"Mulhouse", "68100", "68224"},
    {"Montreuil", "93100", "93048"},
    {"Caen", "14000", "14118"},
    {"Nancy", "54000", "54395"},
    {"Roubaix", "59100", "59512"},
    {"Tourcoing", "59200", "59599"},
    {"Nanterre", "92000", "92050"},
    {"Vitry-sur-Seine", "94400", "94081"},
    {"Avignon", "84000", "84007"},
    {"Créteil", "94000", "94028"},
    {"Poitiers", "86000", "86194"},
    {"Aubervilliers", "93300", "93001"},
    {"Versailles", "78000", "78646"},
    {"Pau", "64000", "64445"},
    {"Colombes", "92700", "92025"},
    {"Asnières-sur-Seine", "92600", "92004"},
    {"Courbevoie", "92400", "92026"},
    {"La Rochelle", "17000", "17300"},
    {"Rueil-Malmaison", "92500", "92063"},
    {"Champigny-sur-Marne", "94500", "94017"},
    {"Antibes", "06600", "06004"},
    {"Saint-Maur-des-Fossés", "94100", "94068"},
    {"Cannes", "06400", "06029"},
    {"Calais", "62100", "62193"},
    {"Béziers", "34500", "34032"},
    {"Mérignac", "33700", "33281"},
    {"Drancy", "93700", "93029"},
    {"Colmar", "68000", "68066"},
    {"Ajaccio", "20000", "2A004"},
    {"Bastia", "20200", "2B033"},
    {"Bourges", "18000", "18033"},
    {"Quimper", "29000", "29232"},
    {"Valence", "26000", "26362"},
    {"Troyes", "10000", "10387"},
    {"Chambéry", "73000", "73065"},
    {"Niort", "79000", "79191"},
    {"Lorient", "56100", "56121"},
    {"Vannes", "56000", "56260"},
    {"Saint-Nazaire", "44600", "44184"},
    {"Cholet", "49300", "49099"},
    {"La Roche-sur-Yon", "85000", "85191"},
    {"Laval", "53000", "53130"},
    {"Angoulême", "16000", "16015"},
    {"Chartres", "28000", "28085"},
    {"Blois", "41000", "41018"},
    {"Châteauroux", "36000", "36044"},
    {"Auxerre", "89000", "89024"},
    {"Nevers", "58000", "58194"},
    {"Mâcon", "71000", "71270"},
    {"Bourg-en-Bresse", "01000", "01053"},
    {"Gap", "05000", "05061"},
    {"Digne-les-Bains", "04000", "04070"},
    {"Carcassonne", "11000", "11069"},
    {"Rodez", "12000", "12202"},
    {"Albi", "81000", "81004"},
    {"Montauban", "82000", "82121"},
    {"Agen", "47000", "47001"},
    {"Mont-de-Marsan", "40000", "40192"},
    {"Périgueux", "24000", "24322"},
    {"Cahors", "46000", "46042"},
    {"Tarbes", "65000", "65440"},
    {"Foix", "09000", "09122"},
    {"Auch", "32000", "32013"},
    {"Aurillac", "15000", "15014"},
    {"Le Puy-en-Velay", "43000", "43157"},
    {"Guéret", "23000", "23096"},
    {"Tulle", "19000", "19272"},
    {"Moulins", "03000", "03190"},
    {"Saint-Brieuc", "22000", "22278"},
    {"Évreux", "27000", "27229"},
    {"Alençon", "61000", "61001"},
    {"Saint-Lô", "50000", "50502"},
    {"Beauvais", "60000", "60057"},
    {"Laon", "02000", "02408"},
    {"Arras", "62000", "62041"},
    {"Charleville-Mézières", "08000", "08105"},
    {"Châlons-en-Champagne", "51000", "51108"},
    {"Épinal", "88000", "88160"},
    {"Vesoul", "70000", "70550"},
    {"Belfort", "90000", "90010"},
    {"Melun", "77000", "77288"},
    {"Cergy", "95000", "95127"},
    {"Bobigny", "93000", "93008"},
};
#define NCOMMUNES (sizeof communes / sizeof communes[0])

static const char *const first_f[] = {
    "Marie",      "Jeanne",   "Françoise", "Monique",   "Catherine", "Nathalie",  "Isabelle",
    "Sylvie",     "Anne",     "Martine",   "Christine", "Nicole",    "Sophie",    "Valérie",
    "Sandrine",   "Céline",   "Julie",     "Aurélie",   "Émilie",    "Camille",   "Léa",
    "Manon",      "Chloé",    "Inès",      "Jade",      "Louise",    "Alice",     "Lina",
    "Rose",       "Anna",     "Mila",      "Ambre",     "Zoé",       "Juliette",  "Léna",
    "Agathe",     "Margaux",  "Hélène",    "Élodie",    "Mélanie",   "Laetitia",  "Stéphanie",
    "Véronique",  "Brigitte", "Danielle",  "Josiane",   "Odile",     "Geneviève", "Thérèse",
    "Bernadette", "Colette",  "Yvette",    "Mireille",  "Maëlys",    "Clémence",  "Noémie",
    "Océane",     "Héloïse",  "Anaïs",     "Gaëlle",    "Solène",    "Bérénice",  "Capucine",
    "Fatima",     "Aïcha",    "Yasmine",   "Nadia",     "Leïla",     "Sarah",     "Lucie",
};
static const char *const first_m[] = {
    "Jean",    "Pierre",    "Michel",    "André",      "Philippe", "Alain",    "Jacques",
    "Bernard", "Patrick",   "Daniel",    "Christophe", "Nicolas",  "Stéphane", "Frédéric",
    "Laurent", "Sébastien", "Julien",    "Thomas",     "Maxime",   "Antoine",  "Hugo",
    "Lucas",   "Louis",     "Gabriel",   "Raphaël",    "Arthur",   "Jules",    "Adam",
    "Léo",     "Noé",       "Paul",      "Gaël",       "Théo",     "Nathan",   "Timothée",
    "Clément", "Jérôme",    "Hervé",     "Gérard",     "René",     "Joël",     "Noël",
    "Benoît",  "François",  "Étienne",   "Cédric",     "Mathéo",   "Loïc",     "Anaël",
    "Mathis",  "Baptiste",  "Rémi",      "Grégoire",   "Aurélien", "Valentin", "Quentin",
    "Mohamed", "Karim",     "Mehdi",     "Youssef",    "Samir",    "Yanis",    "Ibrahim",
    "Olivier", "Vincent",   "Guillaume", "Romain",     "Damien",   "Xavier",   "Yves",
};
static const char *const last_names[] = {
    "Martin",      "Bernard",    "Dubois",   "Thomas",    "Robert",    "Richard",  "Petit",
    "Durand",      "Leroy",      "Moreau",   "Simon",     "Laurent",   "Lefèvre",  "Michel",
    "Garcia",      "David",      "Bertrand", "Roux",      "Vincent",   "Fournier", "Morel",
    "Girard",      "André",      "Lefebvre", "Mercier",   "Dupont",    "Lambert",  "Bonnet",
    "François",    "Martinez",   "Legrand",  "Garnier",   "Faure",     "Rousseau", "Blanc",
    "Guérin",      "Muller",     "Henry",    "Roussel",   "Nicolas",   "Perrin",   "Morin",
    "Mathieu",     "Clément",    "Gauthier", "Dumont",    "Lopez",     "Fontaine", "Chevalier",
    "Robin",       "Masson",     "Sanchez",  "Gérard",    "Nguyen",    "Boyer",    "Denis",
    "Lemaire",     "Duval",      "Joly",     "Gautier",   "Roger",     "Roche",    "Roy",
    "Noël",        "Meyer",      "Lucas",    "Meunier",   "Jean",      "Perez",    "Marchand",
    "Dufour",      "Blanchard",  "Marie",    "Barbier",   "Brun",      "Dumas",    "Brunet",
    "Schmitt",     "Leroux",     "Colin",    "Fernandez", "Pierre",    "Renard",   "Arnaud",
    "Rolland",     "Caron",      "Aubert",   "Giraud",    "Leclerc",   "Vidal",    "Bourgeois",
    "Renaud",      "Lemoine",    "Picard",   "Gaillard",  "Philippe",  "Leclercq", "Lacroix",
    "Fabre",       "Dupuis",     "Olivier",  "Rodriguez", "Da Silva",  "Hubert",   "Louis",
    "Charles",     "Guillot",    "Rivière",  "Le Gall",   "Guillaume", "Adam",     "Rey",
    "Moulin",      "Gonzalez",   "Berger",   "Lecomte",   "Ménard",    "Fleury",   "Deschamps",
    "Carpentier",  "Julien",     "Benoît",   "Paris",     "Maillard",  "Marchal",  "Aubry",
    "Vasseur",     "Le Roux",    "Renault",  "Jacquet",   "Collet",    "Prévost",  "Poirier",
    "Charpentier", "Royer",      "Huet",     "Baron",     "Dupuy",     "Pons",     "Paul",
    "Laine",       "Carré",      "Breton",   "Rémy",      "Schneider", "Perrot",   "Guyot",
    "Barre",       "Marty",      "Cousin",   "Bouvier",   "Lebrun",    "Hoarau",   "Besnard",
    "Chauvin",     "Lebon",      "Texier",   "Bailly",    "Gilbert",   "Labbé",    "Lévêque",
    "Hamon",       "Bégué",      "Benard",   "Tessier",   "Kerouac",   "Le Bihan", "Ollivier",
    "Saïdi",       "Benali",     "Haddad",   "Mansouri",  "Diallo",    "Traoré",   "Camara",
    "Pereira",     "Dos Santos", "Ferreira", "Rossi",     "Bianchi",   "Cohen",    "Lévy",
    "Château",     "Delaunay",   "D'Angelo", "Lefranc",   "Delmas",    "Pagès",    "Crépin",
};

static const char *const street_types[] = {"rue",    "avenue",  "boulevard", "place",
                                           "chemin", "impasse", "allée",     "quai"};
static const char *const street_names[] = {
    "de la République", "Victor Hugo",   "Jean Jaurès",
    "de la Gare",       "Pasteur",       "du Général de Gaulle",
    "des Lilas",        "de l'Église",   "Jules Ferry",
    "Gambetta",         "de la Paix",    "du Moulin",
    "des Écoles",       "Émile Zola",    "de la Liberté",
    "du Château",       "des Acacias",   "Voltaire",
    "Jean Moulin",      "de Verdun",     "du Stade",
    "des Tilleuls",     "Saint-Exupéry", "de la Fontaine",
    "Louise Michel",    "des Peupliers", "du Port",
    "de Bretagne",      "Marie Curie",   "des Vignes",
    "de la Forêt",      "Simone Veil",
};
static const char *const domains[] = {"example.com", "example.net", "example.org"};

/* ---- helpers ------------------------------------------------------------------------------- */

/* ASCII folding of the French letters we use, lower-cased; spaces and apostrophes dropped. */
static void
ascii_fold(const char *in, char *out, size_t cap)
{
    static const struct {
        const char *utf8;
        const char *ascii;
    } map[] = {
        {"é", "e"}, {"è", "e"}, {"ê", "e"},  {"ë", "e"},  {"É", "e"}, {"à", "a"}, {"â", "a"},
        {"ä", "a"}, {"î", "i"}, {"ï", "i"},  {"ô", "o"},  {"ö", "o"}, {"ù", "u"}, {"û", "u"},
        {"ü", "u"}, {"ç", "c"}, {"œ", "oe"}, {"æ", "ae"}, {"ÿ", "y"},
    };
    size_t n = 0;

    while (*in != 0 && n + 3 < cap) {
        const char *rep = NULL;
        size_t adv = 1;
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
            size_t l = strlen(map[i].utf8);
            if (strncmp(in, map[i].utf8, l) == 0) {
                rep = map[i].ascii;
                adv = l;
                break;
            }
        }
        if (rep != NULL) {
            for (; *rep != 0; rep++) {
                out[n++] = *rep;
            }
        } else if (*in >= 'A' && *in <= 'Z') {
            out[n++] = (char)(*in - 'A' + 'a');
        } else if ((*in >= 'a' && *in <= 'z') || *in == '-') {
            out[n++] = *in;
        }
        in += adv;
    }
    out[n] = 0;
}

/* n mod 97 of a decimal digit string. */
static unsigned
mod97(const char *digits)
{
    unsigned r = 0;

    for (; *digits != 0; digits++) {
        r = (r * 10 + (unsigned)(*digits - '0')) % 97;
    }
    return r;
}

/* NIR: sex, year, month, department + commune (INSEE of the birth place; Corsica 2A/2B count as
 * 19/18 for the key), order, then key = 97 - (13-digit number mod 97). */
static void
make_nir(int sex_m, int year, int month, const char *insee, unsigned order, char out[16])
{
    char num[32];
    char keyed[32];

    snprintf(num, sizeof num, "%d%02d%02d%.5s%03u", sex_m ? 1 : 2, year % 100, month, insee, order);
    memcpy(keyed, num, sizeof keyed);
    if (keyed[5] == '2' && (keyed[6] == 'A' || keyed[6] == 'B')) {
        keyed[5] = '1';
        keyed[6] = keyed[6] == 'A' ? '9' : '8';
    }
    char full[48];
    snprintf(full, sizeof full, "%.13s%02u", num, 97 - mod97(keyed));
    memcpy(out, full, 15);
    out[15] = 0;
}

/* IBAN FR: bank (5) branch (5) account (11) RIB key (2); ISO 13616 check digits computed over
 * BBAN || "FR00" with letters as numbers (F=15, R=27). */
static void
make_iban(struct prng *p, char out[40])
{
    char bban[64];
    char check[80];
    char flat[80];
    unsigned long long bank = 10000 + below(p, 90000);
    unsigned long long branch = below(p, 100000);
    unsigned long long account =
        (unsigned long long)below(p, 100000) * 1000000ULL + below(p, 1000000);
    unsigned rib;
    unsigned cd;

    /* RIB key: 97 - ((89 bank + 15 branch + 3 account) mod 97) */
    rib = 97 - (unsigned)((89 * bank + 15 * branch + 3 * (account % 97)) % 97);
    snprintf(bban, sizeof bban, "%05llu%05llu%011llu%02u", bank, branch, account, rib);
    snprintf(check, sizeof check, "%s152700", bban);
    cd = 98 - mod97(check);
    snprintf(flat, sizeof flat, "FR%02u%s", cd, bban);
    /* printed in groups of four, as on a RIB */
    size_t n = 0;
    for (size_t i = 0; flat[i] != 0 && n + 2 < 40; i++) {
        if (i > 0 && i % 4 == 0) {
            out[n++] = ' ';
        }
        out[n++] = flat[i];
    }
    out[n] = 0;
}

struct person {
    int male;
    int age;
    int year;
    int month;
    int day;
    const char *first;
    const char *last;
    const struct commune *birth;
};

static void
random_birth(struct prng *p, struct person *pp, int age)
{
    /* the reference date is fixed (2025-01-01) so that the output never depends on the clock */
    pp->age = age;
    pp->year = 2024 - age;
    pp->month = 1 + (int)below(p, 12);
    pp->day = 1 + (int)below(p, (uint32_t)ecl_days_in_month(pp->year, pp->month));
}

static int
adult_age(struct prng *p)
{
    /* skewed towards working ages, up to 100 */
    return chance(p, 80) ? 20 + (int)below(p, 50) : 70 + (int)below(p, 31);
}

static int
set_str(json_t *o, const char *k, const char *v)
{
    return json_object_set_new(o, k, json_string(v));
}

static int
emit(json_t *o, FILE *f)
{
    int rc = json_dumpf(o, f, JSON_COMPACT);

    json_decref(o);
    return rc == 0 && fputc('\n', f) != EOF ? 0 : -1;
}

enum ecl_status
ecl_demo_generate(uint64_t seed, uint64_t size, FILE *citizens, FILE *benefits,
                  struct ecl_demo_stats *out)
{
    /* per (sex, birth year, month, birth commune): how many NIR orders were given, so that every
     * NIR is unique without memory that grows with size */
    enum { YEARS = 100, ORDERS = 999 };
    uint16_t *orders = calloc(2 * YEARS * 12 * NCOMMUNES, sizeof *orders);
    struct ecl_demo_stats stats = {0, 0};
    struct prng p;
    int bad = 0;

    if (orders == NULL) {
        return ECL_ERR_NOMEM;
    }
    if (size > ECL_DEMO_MAX_SIZE) {
        free(orders);
        return ECL_ERR_LIMIT;
    }
    prng_seed(&p, seed);
    while (stats.people < size && !bad) {
        static const unsigned sizes_pct[] = {35, 30, 15, 12, 5, 3}; /* 1..6 people */
        const struct commune *home = &communes[below(&p, NCOMMUNES)];
        unsigned roll = below(&p, 100);
        unsigned hsize = 1;
        unsigned acc = 0;
        char household[33];
        char address[129];
        const char *family = last_names[below(&p, sizeof last_names / sizeof last_names[0])];
        const char *bracket = (const char *[]){"A", "B", "C", "D", "E"}[below(&p, 5)];
        int first_age = adult_age(&p);
        unsigned children = 0;

        for (unsigned i = 0; i < 6; i++) {
            acc += sizes_pct[i];
            if (roll < acc) {
                hsize = i + 1;
                break;
            }
        }
        stats.households++;
        snprintf(household, sizeof household, "HH-%010llu", (unsigned long long)stats.households);
        snprintf(address, sizeof address, "%u %s %s", 1 + below(&p, 180),
                 street_types[below(&p, sizeof street_types / sizeof street_types[0])],
                 street_names[below(&p, sizeof street_names / sizeof street_names[0])]);
        children = hsize > 2 ? hsize - 2 : 0;

        for (unsigned m = 0; m < hsize && stats.people < size && !bad; m++) {
            struct person pp;
            char nir[16];
            char phone[20];
            char email[160];
            char fl[64];
            char ll[64];
            char date[48];
            char review[48];
            int age;
            int adult;
            size_t cell;
            json_t *c;
            json_t *b;

            memset(&pp, 0, sizeof pp);
            pp.male = (int)below(&p, 2);
            if (m == 0) {
                age = first_age;
            } else if (m == 1 && hsize >= 2) {
                age = first_age - 6 + (int)below(&p, 13);
                age = age < 18 ? 18 : age > 100 ? 100 : age;
            } else {
                int maxc = first_age - 18 < 25 ? first_age - 18 : 25;
                age = maxc > 0 ? (int)below(&p, (uint32_t)maxc + 1) : 0;
            }
            random_birth(&p, &pp, age);
            adult = age >= 18;
            pp.first = pp.male ? first_m[below(&p, sizeof first_m / sizeof first_m[0])]
                               : first_f[below(&p, sizeof first_f / sizeof first_f[0])];
            /* most members share the family name; some partners kept theirs */
            pp.last = (m == 1 && chance(&p, 30))
                          ? last_names[below(&p, sizeof last_names / sizeof last_names[0])]
                          : family;
            pp.birth = chance(&p, 40) ? home : &communes[below(&p, NCOMMUNES)];

            cell = (((size_t)pp.male * YEARS + (size_t)(pp.year % 100)) * 12 +
                    (size_t)(pp.month - 1)) *
                       NCOMMUNES +
                   (size_t)(pp.birth - communes);
            if (orders[cell] >= ORDERS) {
                bad = 1; /* cannot happen below ECL_DEMO_MAX_SIZE in practice */
                break;
            }
            /* a stride coprime with 999 spreads orders over 001..999 without repeating */
            make_nir(pp.male, pp.year, pp.month, pp.birth->insee,
                     (unsigned)((orders[cell] * 367u + (unsigned)(cell % ORDERS)) % ORDERS) + 1,
                     nir);
            orders[cell]++;
            snprintf(date, sizeof date, "%04d-%02d-%02d", pp.year, pp.month, pp.day);
            snprintf(phone, sizeof phone, "0%u %02u %02u %02u %02u", 6 + below(&p, 2),
                     below(&p, 100), below(&p, 100), below(&p, 100), below(&p, 100));
            ascii_fold(pp.first, fl, sizeof fl);
            ascii_fold(pp.last, ll, sizeof ll);
            if (chance(&p, 50)) {
                snprintf(email, sizeof email, "%s.%s@%s", fl, ll, domains[below(&p, 3)]);
            } else {
                snprintf(email, sizeof email, "%s.%s%u@%s", fl, ll, below(&p, 1000),
                         domains[below(&p, 3)]);
            }

            c = json_object();
            bad |= c == NULL;
            if (!bad) {
                char iban[40];
                int disability = chance(&p, age >= 60 ? 12 : 4);
                make_iban(&p, iban);
                bad |= set_str(c, "nir", nir) | set_str(c, "first_name", pp.first) |
                       set_str(c, "last_name", pp.last) | set_str(c, "sex", pp.male ? "M" : "F") |
                       set_str(c, "birth_date", date) | set_str(c, "birth_place", pp.birth->name) |
                       set_str(c, "household_id", household) | set_str(c, "address", address) |
                       set_str(c, "postcode", home->postcode) | set_str(c, "commune", home->name) |
                       set_str(c, "insee_code", home->insee);
                /* children have no phone, email or bank account of their own */
                bad |= json_object_set_new(c, "phone", adult ? json_string(phone) : json_null());
                bad |= json_object_set_new(c, "email", adult ? json_string(email) : json_null());
                bad |= json_object_set_new(c, "iban", adult ? json_string(iban) : json_null());
                bad |= set_str(c, "income_bracket", bracket);
                bad |= json_object_set_new(c, "disability", json_boolean(disability));
                bad |= emit(c, citizens) != 0;

                b = json_object();
                bad |= b == NULL;
                if (!bad) {
                    int low = bracket[0] <= 'B';
                    int rsa = adult && bracket[0] == 'A' && chance(&p, 60)
                                  ? 500 + (int)below(&p, 151)
                                  : 0;
                    int apl = adult && low && chance(&p, 70) ? 80 + (int)below(&p, 300) : 0;
                    int fam = m == 0 && children >= 2 ? 140 + 180 * ((int)children - 2) : 0;
                    unsigned st = below(&p, 100);
                    snprintf(review, sizeof review, "%04u-%02u-%02u", 2022 + below(&p, 3),
                             1 + below(&p, 12), 1 + below(&p, 28));
                    char office[80];
                    snprintf(office, sizeof office, "CAF %s", home->name);
                    bad |= set_str(b, "nir", nir) | set_str(b, "household_id", household) |
                           set_str(b, "status",
                                   st < 70   ? "active"
                                   : st < 80 ? "suspended"
                                             : "closed") |
                           json_object_set_new(b, "rsa_monthly", json_integer(rsa)) |
                           json_object_set_new(b, "apl_monthly", json_integer(apl)) |
                           json_object_set_new(b, "family_allowance_monthly", json_integer(fam)) |
                           json_object_set_new(
                               b, "aah", json_boolean(adult && disability && chance(&p, 70))) |
                           json_object_set_new(b, "dependants",
                                               json_integer(m < 2 ? (json_int_t)children : 0)) |
                           set_str(b, "caf_office", office) | set_str(b, "last_review", review);
                    bad |= emit(b, benefits) != 0;
                }
            }
            stats.people++;
        }
    }
    free(orders);
    if (bad) {
        return ECL_ERR_IO;
    }
    *out = stats;
    return ECL_OK;
}
