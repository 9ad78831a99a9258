import type { CountryStockConfig, DestinationCountryConfig, SenderConfig } from "./config.js";

const FULL = { inbound: true, outbound: true };
const NONE = { inbound: false, outbound: false };

/** North American numbers text and call; European geographic and toll-free numbers mostly only call. */
const NANP_LOCAL = { voice: FULL, sms: FULL, mms: FULL };
const NANP_TOLL_FREE = { voice: FULL, sms: FULL, mms: NONE };
const MOBILE = { voice: FULL, sms: FULL, mms: NONE };
const VOICE_ONLY = { voice: FULL, sms: NONE, mms: NONE };
const INBOUND_CALLS_ONLY = { voice: { inbound: true, outbound: false }, sms: NONE, mms: NONE };

/** Prices are monthly, in EUR units; the generator makes some "golden" numbers dearer. */
export const DEFAULT_STOCK: Record<string, CountryStockConfig> = {
  US: {
    callingCode: "1",
    nationalLength: 10,
    types: {
      local: { prefixes: ["+1212", "+1415", "+1646", "+1312", "+1617"], monthlyPrice: 1.0, capabilities: NANP_LOCAL },
      "toll-free": { prefixes: ["+1800", "+1833", "+1888"], monthlyPrice: 2.0, capabilities: NANP_TOLL_FREE },
    },
    testing: { prefixes: ["+1555"], count: 20, type: "local" },
  },
  CA: {
    callingCode: "1",
    nationalLength: 10,
    types: {
      local: { prefixes: ["+1416", "+1604", "+1514"], monthlyPrice: 1.5, capabilities: NANP_LOCAL },
      "toll-free": { prefixes: ["+1855", "+1877"], monthlyPrice: 2.5, capabilities: NANP_TOLL_FREE },
    },
  },
  GB: {
    callingCode: "44",
    nationalLength: 10,
    types: {
      local: { prefixes: ["+4420", "+44161", "+44121"], monthlyPrice: 1.5, capabilities: VOICE_ONLY },
      mobile: { prefixes: ["+447700", "+44740", "+44751"], monthlyPrice: 3.5, capabilities: MOBILE },
      "toll-free": { prefixes: ["+44800", "+44808"], monthlyPrice: 10, capabilities: INBOUND_CALLS_ONLY },
      national: { prefixes: ["+44330", "+44345"], monthlyPrice: 2.0, capabilities: VOICE_ONLY },
    },
    testing: { prefixes: ["+447700900"], count: 20, type: "mobile" },
  },
  NL: {
    callingCode: "31",
    nationalLength: 9,
    types: {
      local: { prefixes: ["+3120", "+3110", "+3130"], monthlyPrice: 2.0, capabilities: VOICE_ONLY },
      mobile: { prefixes: ["+316"], monthlyPrice: 3.5, capabilities: MOBILE },
      "toll-free": { prefixes: ["+31800"], monthlyPrice: 12, capabilities: INBOUND_CALLS_ONLY },
      national: { prefixes: ["+3185", "+3188"], monthlyPrice: 3.0, capabilities: VOICE_ONLY },
    },
  },
  DE: {
    callingCode: "49",
    nationalLength: 10,
    types: {
      local: { prefixes: ["+4930", "+4940", "+4989"], monthlyPrice: 1.8, capabilities: VOICE_ONLY },
      mobile: { prefixes: ["+49151", "+49160", "+49170"], monthlyPrice: 4.0, capabilities: MOBILE },
      "toll-free": { prefixes: ["+49800"], monthlyPrice: 10, capabilities: INBOUND_CALLS_ONLY },
      national: { prefixes: ["+4932"], monthlyPrice: 2.5, capabilities: VOICE_ONLY },
    },
  },
};

/** The destination countries every endpoint can count; `alphaPrice` is the monthly price of an alpha sender there. */
export const DEFAULT_DESTINATIONS: Record<string, DestinationCountryConfig> = {
  US: { name: "United States", alphaPrice: 0 },
  CA: { name: "Canada", alphaPrice: 0 },
  GB: { name: "United Kingdom", alphaPrice: 6 },
  NL: { name: "Netherlands", alphaPrice: 5 },
  DE: { name: "Germany", alphaPrice: 5.5 },
  BE: { name: "Belgium", alphaPrice: 5 },
  FR: { name: "France", alphaPrice: 12 },
  ES: { name: "Spain", alphaPrice: 7 },
  IT: { name: "Italy", alphaPrice: 8 },
  PT: { name: "Portugal", alphaPrice: 6 },
  IE: { name: "Ireland", alphaPrice: 6 },
  AT: { name: "Austria", alphaPrice: 6 },
  CH: { name: "Switzerland", alphaPrice: 7 },
  SE: { name: "Sweden", alphaPrice: 6 },
  NO: { name: "Norway", alphaPrice: 7 },
  DK: { name: "Denmark", alphaPrice: 6 },
  FI: { name: "Finland", alphaPrice: 6 },
  PL: { name: "Poland", alphaPrice: 5 },
  AU: { name: "Australia", alphaPrice: 9 },
  SG: { name: "Singapore", alphaPrice: 15 },
  IN: { name: "India", alphaPrice: 20 },
  ID: { name: "Indonesia", alphaPrice: 25 },
  MX: { name: "Mexico", alphaPrice: 10 },
  BR: { name: "Brazil", alphaPrice: 10 },
  ZA: { name: "South Africa", alphaPrice: 8 },
};

/** Alphanumeric senders do not work in the USA and Canada. */
export const DEFAULT_ALPHA_UNSUPPORTED = ["US", "CA"];

export const DEFAULT_SENDERS: SenderConfig[] = [
  { alphaString: "ACME", activeCountries: ["NL", "GB"], blockedCountries: ["FR"] },
  { alphaString: "BIRDIE", activeCountries: ["DE"] },
  { alphaString: "SHOP24", blockedCountries: ["IN", "ID"] },
];

export const DEFAULT_COUNT_PER_TYPE = 300;
export const DEFAULT_SEED = 20261101;
