/**
 * The numbers.birdoperator.dev/v1alpha1 API: names to address the resources with, and their types (generated
 * from crds/ into types.ts). test/crds/types-fresh.test.ts checks these constants against the CRDs.
 */
export * from "./types.js";

export const GROUP = "numbers.birdoperator.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}` as const;

export const BIRD_WORKSPACE_KIND = "BirdWorkspace";
export const PHONE_NUMBER_KIND = "PhoneNumber";
export const ALPHA_SENDER_KIND = "AlphaSender";
export const BIRD_NUMBER_KIND = "BirdNumber";
export const BIRD_SENDER_KIND = "BirdSender";

export const BIRD_WORKSPACE_PLURAL = "birdworkspaces";
export const PHONE_NUMBER_PLURAL = "phonenumbers";
export const ALPHA_SENDER_PLURAL = "alphasenders";
export const BIRD_NUMBER_PLURAL = "birdnumbers";
export const BIRD_SENDER_PLURAL = "birdsenders";
